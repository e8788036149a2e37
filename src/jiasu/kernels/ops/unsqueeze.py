from ..base import Kernel
from ._common import as_ints, static_axes


class Unsqueeze(Kernel):
    """Insert size-1 dims at ``axes`` (of the output), as attribute (< 13) or input (13+)."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axes = static_axes(self)

    def run(self, x, axes=None):
        dims = self.axes if self.axes is not None else as_ints(axes)
        rank = x.dim() + len(dims)
        shape = list(x.shape)
        for d in sorted(d + rank if d < 0 else d for d in dims):
            shape.insert(d, 1)
        return (x.reshape(shape),)
