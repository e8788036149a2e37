"""ArgMax / ArgMin: int64 index of the first (or, select_last_index=1, last) extreme along ``axis``."""

import torch

from ..base import Kernel


class ArgBase(Kernel):
    fn = staticmethod(torch.argmax)

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axis = int(self.attr("axis", 0))
        self.keepdim = bool(self.attr("keepdims", 1))
        self.last = bool(self.attr("select_last_index", 0))

    def run(self, x):
        if x.dtype == torch.bool:
            x = x.to(torch.uint8)
        axis = self.axis + x.dim() if self.axis < 0 else self.axis
        if self.last:
            idx = x.shape[axis] - 1 - self.fn(torch.flip(x, (axis,)), dim=axis, keepdim=self.keepdim)
        else:
            idx = self.fn(x, dim=axis, keepdim=self.keepdim)
        return (idx,)
