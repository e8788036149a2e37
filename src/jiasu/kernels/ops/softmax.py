import math

import torch

from ..base import Kernel


class Softmax(Kernel):
    """Since opset 13 along one axis (default -1); before, over the 2-D coercion at ``axis`` (default 1)."""

    fn = staticmethod(torch.softmax)

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.legacy = ctx.opset < 13
        self.axis = int(self.attr("axis", 1 if self.legacy else -1))

    def run(self, x):
        if not self.legacy:
            return (self.fn(x, self.axis),)
        axis = self.axis + x.dim() if self.axis < 0 else self.axis
        flat = x.reshape(math.prod(x.shape[:axis]), -1)
        return (self.fn(flat, 1).reshape(x.shape),)
