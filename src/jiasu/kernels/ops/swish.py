import torch

from ..base import Kernel


class Swish(Kernel):
    """x * sigmoid(alpha * x) (opset 24; alpha defaults to 1)."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.alpha = float(self.attr("alpha", 1.0))

    def run(self, x):
        return (x * torch.sigmoid(x * self.alpha) if self.alpha != 1.0 else x * torch.sigmoid(x),)
