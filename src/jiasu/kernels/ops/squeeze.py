from ..base import Kernel
from ._common import as_ints, static_axes


class Squeeze(Kernel):
    """Axes as attribute (< 13) or input (13+); none given: every size-1 dim."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axes = static_axes(self)

    def run(self, x, axes=None):
        dims = self.axes if self.axes is not None else (as_ints(axes) if axes is not None else None)
        if dims is None:
            return (x.squeeze(),)
        return (x.squeeze(tuple(d + x.dim() if d < 0 else d for d in dims)),)
