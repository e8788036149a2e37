from ..base import Kernel
from ._common import as_ints


class Unsqueeze(Kernel):
    """Insert size-1 dims at ``axes`` (of the output), as attribute (< 13) or input (13+)."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        axes = self.attr("axes")
        const = self.const_input(1) if self.has_input(1) else None
        if const is not None:
            axes = as_ints(const)
        self.axes = [int(a) for a in axes] if axes is not None else None

    def run(self, x, axes=None):
        dims = self.axes if self.axes is not None else as_ints(axes)
        rank = x.dim() + len(dims)
        shape = list(x.shape)
        for d in sorted(d + rank if d < 0 else d for d in dims):
            shape.insert(d, 1)
        return (x.reshape(shape),)
