import torch

from ..base import Kernel


class HardSigmoid(Kernel):
    """max(0, min(1, alpha * x + beta)); ONNX defaults alpha 0.2, beta 0.5 (torch's differ)."""

    def run(self, x):
        alpha, beta = self.attr("alpha", 0.2), self.attr("beta", 0.5)
        return (torch.clamp(x * alpha + beta, 0.0, 1.0),)
