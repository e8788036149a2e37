import math

import torch

from ..base import Kernel


class Softmax(Kernel):
    """Since opset 13 along one axis (default -1); before, over the 2-D coercion at ``axis`` (default 1)."""

    fn = staticmethod(torch.softmax)

    def run(self, x):
        if self.ctx.opset >= 13:
            return (self.fn(x, int(self.attr("axis", -1))),)
        axis = int(self.attr("axis", 1))
        axis = axis + x.dim() if axis < 0 else axis
        flat = x.reshape(math.prod(x.shape[:axis]), -1)
        return (self.fn(flat, 1).reshape(x.shape),)
