import torch

from ..base import Kernel


class GatherElements(Kernel):
    """torch.gather along ``axis``; negative indices count from the end."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axis = int(self.attr("axis", 0))

    def run(self, x, indices):
        axis = self.axis + x.dim() if self.axis < 0 else self.axis
        idx = torch.where(indices < 0, indices + x.shape[axis], indices).long()
        return (torch.gather(x, axis, idx),)
