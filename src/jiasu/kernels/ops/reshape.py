from ..base import Kernel
from ._common import as_ints


class Reshape(Kernel):
    """0 copies the input dim (unless allowzero=1), -1 is inferred. A constant shape is read once."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.allowzero = bool(self.attr("allowzero", 0))
        shape = self.const_input(1)
        self.dims = as_ints(shape) if shape is not None else None

    def run(self, x, shape):
        dims = self.dims if self.dims is not None else as_ints(shape)
        if not self.allowzero and 0 in dims:
            dims = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]
        return (x.reshape(dims),)
