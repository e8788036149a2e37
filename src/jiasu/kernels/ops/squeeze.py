from ..base import Kernel
from ._common import as_ints


class Squeeze(Kernel):
    """Axes as attribute (< 13) or input (13+); none given: every size-1 dim."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        axes = self.attr("axes")
        const = self.const_input(1) if self.has_input(1) else None
        if const is not None:
            axes = as_ints(const)
        self.axes = [int(a) for a in axes] if axes is not None else None

    def run(self, x, axes=None):
        dims = self.axes if self.axes is not None else (as_ints(axes) if axes is not None else None)
        if dims is None:
            return (x.squeeze(),)
        return (x.squeeze(tuple(d + x.dim() if d < 0 else d for d in dims)),)
