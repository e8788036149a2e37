import torch

from ..base import Kernel


class PRelu(Kernel):
    """x where x >= 0, else slope * x. Since opset 7 slope broadcasts numpy-style to x; before, a 1-D slope is per channel."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.per_channel = ctx.opset < 7

    def run(self, x, slope):
        if self.per_channel and slope.dim() == 1 and slope.numel() > 1 and x.dim() > 2:
            slope = slope.reshape((-1,) + (1,) * (x.dim() - 2))
        return (torch.where(x < 0, x * slope, x),)
