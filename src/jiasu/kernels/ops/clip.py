import torch

from ..base import Kernel


class Clip(Kernel):
    """Bounds are attributes before opset 11 and optional inputs since."""

    def run(self, x, lo=None, hi=None):
        if lo is None:
            lo = self.attr("min")
        if hi is None:
            hi = self.attr("max")
        if isinstance(lo, torch.Tensor):
            lo = lo.item()
        if isinstance(hi, torch.Tensor):
            hi = hi.item()
        if lo is None and hi is None:
            return (x,)
        return (torch.clamp(x, lo, hi),)
