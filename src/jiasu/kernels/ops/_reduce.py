"""Shared logic of the Reduce* ops: axes as attribute (older opsets) or input (ReduceSum 13+, the rest 18+)."""

from __future__ import annotations

import torch

from ..base import Kernel
from ._common import axes_from


class ReduceBase(Kernel):
    def reduce(self, x: torch.Tensor, dims: tuple[int, ...], keepdim: bool) -> torch.Tensor:
        raise NotImplementedError

    def run(self, x, axes=None):
        keepdim = bool(self.attr("keepdims", 1))
        dims = axes_from(self, (x, axes), 1)
        if not dims:
            if self.attr("noop_with_empty_axes", 0):
                return (x,)
            dims = list(range(x.dim()))
        dims = tuple(d + x.dim() if d < 0 else d for d in dims)
        if x.numel() == 0 or x.dim() == 0:
            return (self.empty(x, dims, keepdim),)
        return (self.reduce(x, dims, keepdim),)

    def empty(self, x, dims, keepdim):
        return self.reduce(x, dims, keepdim) if x.dim() else x
