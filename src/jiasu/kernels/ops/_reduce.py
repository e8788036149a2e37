"""Shared logic of the Reduce* ops: axes as attribute (older opsets) or input (ReduceSum 13+, the rest 18+).

Subclasses implement ``reduce(x, dims, keepdim)`` on a tensor of rank >= 1 with a
non-empty ``dims``; the base handles axes, keepdims, ``noop_with_empty_axes``
(the input is returned, as the spec says), rank-0 inputs, and casts the result
back to the input's dtype (torch widens integer sums and products to int64).
"""

from __future__ import annotations

import torch

from ..base import Kernel
from ._common import as_ints


class ReduceBase(Kernel):
    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.keepdim = bool(self.attr("keepdims", 1))
        self.noop = bool(self.attr("noop_with_empty_axes", 0))
        axes = self.attr("axes")
        if axes is None and self.has_input(1):
            const = self.const_input(1)
            axes = as_ints(const) if const is not None else None
            self.axes_known = const is not None
        else:
            self.axes_known = True
        self.axes = [int(a) for a in axes] if axes is not None else None

    def reduce(self, x: torch.Tensor, dims: tuple[int, ...], keepdim: bool) -> torch.Tensor:
        raise NotImplementedError

    def run(self, x, axes=None):
        dims = self.axes if self.axes_known else (as_ints(axes) if axes is not None else None)
        if not dims:
            if self.noop:
                return (x,)
            dims = range(x.dim())
        if x.dim() == 0:  # a scalar reduces to itself, through the op's elementwise part
            return (self.reduce(x.reshape(1), (0,), False).reshape(()).to(x.dtype),)
        rank = x.dim()
        dims = tuple(sorted({d + rank if d < 0 else d for d in dims}))
        out = self.reduce(x, dims, self.keepdim)
        return (out if out.dtype == x.dtype else out.to(x.dtype),)


class ExtremumBase(ReduceBase):
    """ReduceMax / ReduceMin: over an empty set the result is the identity (-inf/+inf, dtype min/max, False/True)."""

    largest = True

    def reduce(self, x, dims, keepdim):
        if any(x.shape[d] == 0 for d in dims):
            shape = [1 if d in dims else s for d, s in enumerate(x.shape)] if keepdim else [
                s for d, s in enumerate(x.shape) if d not in dims
            ]
            if x.dtype == torch.bool:
                fill = not self.largest
            elif x.dtype.is_floating_point:
                fill = float("-inf") if self.largest else float("inf")
            else:
                info = torch.iinfo(x.dtype)
                fill = info.min if self.largest else info.max
            return torch.full(shape, fill, dtype=x.dtype, device=x.device)
        if x.dtype == torch.bool:
            return (torch.any if self.largest else torch.all)(x, dim=dims, keepdim=keepdim)
        return (torch.amax if self.largest else torch.amin)(x, dim=dims, keepdim=keepdim)
