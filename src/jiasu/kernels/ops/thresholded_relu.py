import torch

from ..base import Kernel


class ThresholdedRelu(Kernel):
    """x where x > alpha, else 0 (alpha defaults to 1)."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.alpha = float(self.attr("alpha", 1.0))

    def run(self, x):
        return (torch.where(x > self.alpha, x, torch.zeros((), dtype=x.dtype, device=x.device)),)
