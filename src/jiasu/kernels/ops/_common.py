"""Helpers shared by the op kernels (not kernels themselves: no class here is registered)."""

from __future__ import annotations

import math

from typing import Callable, Optional, Sequence

import torch

from ..base import Kernel


def unary(fn: Callable[[torch.Tensor], torch.Tensor], doc: str = "") -> type[Kernel]:
    """A kernel base whose single output is ``fn(x)``; subclass it to name the op."""

    class _Unary(Kernel):
        __doc__ = doc

        def run(self, x):
            return (fn(x),)

    return _Unary


def binary(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], doc: str = "") -> type[Kernel]:
    """A kernel base computing ``fn(a, b)`` with numpy broadcasting (as ONNX does since opset 7)."""

    class _Binary(Kernel):
        __doc__ = doc

        def run(self, a, b):
            return (fn(a, b),)

    return _Binary


def variadic(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], doc: str = "") -> type[Kernel]:
    """A kernel base folding ``fn`` over any number of broadcast inputs (Sum, Max, Min...)."""

    class _Variadic(Kernel):
        __doc__ = doc

        def run(self, *xs):
            out = xs[0]
            for x in xs[1:]:
                out = fn(out, x)
            return (out,)

    return _Variadic


def same_pads(spatial, kernel, stride, dilation, mode: str) -> list[int]:
    """Explicit ONNX pads (begins then ends) for auto_pad SAME_UPPER / SAME_LOWER.

    The output is ceil(size / stride); SAME_UPPER puts the odd extra pixel of padding at the end, SAME_LOWER at the beginning.
    """
    begins, ends = [], []
    for size, k, s, d in zip(spatial, kernel, stride, dilation):
        total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
        small, big = total // 2, total - total // 2
        begins.append(small if mode == "SAME_UPPER" else big)
        ends.append(big if mode == "SAME_UPPER" else small)
    return begins + ends


def norm_axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def axes_from(kernel: Kernel, inputs: Sequence[Optional[torch.Tensor]], input_index: int, attr: str = "axes") -> Optional[list[int]]:
    """Axes given as an attribute (older opsets) or as an input (newer ones); None if absent."""
    value = kernel.attr(attr)
    if value is not None:
        return [int(a) for a in value]
    if len(inputs) > input_index and inputs[input_index] is not None:
        return [int(a) for a in inputs[input_index].tolist()]
    return None


def static_axes(kernel: Kernel, input_index: int = 1, attr: str = "axes") -> Optional[list[int]]:
    """Axes known at build time: a constant input (newer opsets) or the attribute (older); None otherwise."""
    const = kernel.const_input(input_index)
    if const is not None:
        return as_ints(const)
    value = kernel.attr(attr)
    return [int(a) for a in value] if value is not None else None


def as_ints(t: torch.Tensor) -> list[int]:
    return [int(v) for v in t.reshape(-1).tolist()]
