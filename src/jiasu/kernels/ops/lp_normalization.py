import torch

from ..base import Kernel


class LpNormalization(Kernel):
    """x / ||x||_p along ``axis`` (p = 1 or 2); a zero norm gives 0."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axis = int(self.attr("axis", -1))
        self.p = int(self.attr("p", 2))

    def run(self, x):
        if self.p == 1:
            norm = torch.sum(torch.abs(x), dim=self.axis, keepdim=True)
        else:
            norm = torch.sqrt(torch.sum(x * x, dim=self.axis, keepdim=True))
        y = x / torch.where(norm == 0, torch.ones_like(norm), norm)
        return (y,)
