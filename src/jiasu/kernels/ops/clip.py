import torch

from ..base import Kernel


class Clip(Kernel):
    """Bounds are attributes before opset 11 and optional inputs since; constant bounds are read once."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.bounds = []
        for i, name in ((1, "min"), (2, "max")):
            if self.has_input(i):
                const = self.const_input(i)
                self.bounds.append(const.item() if const is not None else None)
            else:
                self.bounds.append(self.attr(name))
        self.dynamic = any(self.has_input(i) and self.const_input(i) is None for i in (1, 2))

    def run(self, x, lo=None, hi=None):
        lo_b, hi_b = self.bounds
        if self.dynamic:  # tensor bounds (no host sync on GPU); torch.clamp wants both bounds of one kind
            lo_b = self._tensor(lo if lo is not None else lo_b, x)
            hi_b = self._tensor(hi if hi is not None else hi_b, x)
        if lo_b is None and hi_b is None:
            return (x,)
        return (torch.clamp(x, lo_b, hi_b),)

    @staticmethod
    def _tensor(bound, x):
        if bound is None or isinstance(bound, torch.Tensor):
            return bound if bound is None else bound.to(x.dtype)
        return torch.tensor(bound, dtype=x.dtype, device=x.device)
