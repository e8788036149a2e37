import torch

from ..base import Kernel


class Selu(Kernel):
    """gamma * (x if x > 0 else alpha * (exp(x) - 1)); ONNX's defaults are torch's SELU constants (as float32)."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.alpha = float(self.attr("alpha", 1.67326319217681884765625))
        self.gamma = float(self.attr("gamma", 1.05070102214813232421875))

    def run(self, x):
        return (self.gamma * torch.where(x > 0, x, self.alpha * torch.expm1(x)),)
