import torch

from ..base import Kernel


class HardSigmoid(Kernel):
    """max(0, min(1, alpha * x + beta)); ONNX defaults alpha 0.2, beta 0.5 (torch's differ)."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.alpha = float(self.attr("alpha", 0.2))
        self.beta = float(self.attr("beta", 0.5))

    def run(self, x):
        return (torch.clamp(x * self.alpha + self.beta, 0.0, 1.0),)
