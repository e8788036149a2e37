import torch

from ..base import Kernel


class MeanVarianceNormalization(Kernel):
    """(x - mean) / (std + 1e-9) over ``axes`` (default [0, 2, 3]), std from E[x^2] - E[x]^2 as ONNX defines it."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axes = [int(a) for a in self.attr("axes", [0, 2, 3])]

    def run(self, x):
        dims = tuple(a + x.dim() if a < 0 else a for a in self.axes)
        mean = x.mean(dim=dims, keepdim=True)
        std = torch.sqrt((x * x).mean(dim=dims, keepdim=True) - mean * mean)
        return ((x - mean) / (std + 1e-9),)
