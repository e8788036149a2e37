import math

import torch

from ..base import Kernel


class Hardmax(Kernel):
    """1 at the first maximum along ``axis``, 0 elsewhere. Before opset 13: over the 2-D coercion at ``axis`` (default 1)."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.legacy = ctx.opset < 13
        self.axis = int(self.attr("axis", 1 if self.legacy else -1))

    def run(self, x):
        if x.numel() == 0:
            return (x,)
        axis = self.axis + x.dim() if self.axis < 0 else self.axis
        src = x.reshape(math.prod(x.shape[:axis]), -1) if self.legacy else x
        dim = 1 if self.legacy else axis
        idx = torch.argmax(src, dim=dim, keepdim=True)
        y = torch.zeros_like(src).scatter_(dim, idx, 1)
        return (y.reshape(x.shape),)
