import torch

from ..base import Kernel


class IsInf(Kernel):
    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.negative = bool(self.attr("detect_negative", 1))
        self.positive = bool(self.attr("detect_positive", 1))

    def run(self, x):
        if self.negative and self.positive:
            return (torch.isinf(x),)
        if self.positive:
            return (torch.isposinf(x),)
        if self.negative:
            return (torch.isneginf(x),)
        return (torch.zeros_like(x, dtype=torch.bool),)
