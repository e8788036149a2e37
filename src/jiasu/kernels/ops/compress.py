import torch

from ..base import Kernel


class Compress(Kernel):
    """Slices along ``axis`` (or of the flattened input) where ``condition`` is true; a short condition covers a prefix."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axis = self.attr("axis")

    def run(self, x, condition):
        if self.axis is None:
            x, axis = x.reshape(-1), 0
        else:
            axis = int(self.axis) + x.dim() if int(self.axis) < 0 else int(self.axis)
        keep = torch.nonzero(condition.reshape(-1)).reshape(-1)
        return (torch.index_select(x, axis, keep),)
