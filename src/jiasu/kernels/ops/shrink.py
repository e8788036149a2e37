import torch

from ..base import Kernel


class Shrink(Kernel):
    """x + bias where x < -lambd, x - bias where x > lambd, else 0."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.lambd = float(self.attr("lambd", 0.5))
        self.bias = float(self.attr("bias", 0.0))

    def run(self, x):
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        y = torch.where(x < -self.lambd, x + self.bias, torch.where(x > self.lambd, x - self.bias, zero))
        return (y.to(x.dtype),)
