"""CumSum / CumProd: running reduction along the axis input, optionally exclusive and/or reversed."""

import torch

from ..base import Kernel


class ScanBase(Kernel):
    fn = staticmethod(torch.cumsum)
    identity = 0

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.exclusive = bool(self.attr("exclusive", 0))
        self.reverse = bool(self.attr("reverse", 0))
        axis = self.const_input(1)
        self.axis = int(axis.reshape(-1)[0]) if axis is not None else None

    def run(self, x, axis):
        axis = self.axis if self.axis is not None else int(axis.reshape(-1)[0])
        axis = axis + x.dim() if axis < 0 else axis
        if self.reverse:
            x = torch.flip(x, (axis,))
        y = self.fn(x, dim=axis, dtype=x.dtype)
        if self.exclusive:
            first = torch.full_like(x.narrow(axis, 0, 1), self.identity)
            y = torch.cat([first, y.narrow(axis, 0, x.shape[axis] - 1)], dim=axis)
        if self.reverse:
            y = torch.flip(y, (axis,))
        return (y,)
