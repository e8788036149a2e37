"""Shared attribute handling for MaxPool and AveragePool (auto_pad, asymmetric pads, ceil_mode)."""

from __future__ import annotations

import ctypes
from typing import Optional

import torch
import torch.nn.functional as F

from ..base import Kernel
from ._common import same_pads


class PoolBase(Kernel):
    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.kernel = list(self.attr("kernel_shape"))
        n = len(self.kernel)
        self.n = n
        self.strides = list(self.attr("strides", [1] * n))
        self.dilations = list(self.attr("dilations", [1] * n))
        self.pads = list(self.attr("pads", [0] * (2 * n)))
        self.auto_pad = self.attr("auto_pad", "NOTSET")
        self.ceil_mode = bool(self.attr("ceil_mode", 0))

    def resolve_pads(self, spatial: list[int]) -> list[int]:
        """Explicit ONNX pads (begins then ends) for this input size, applying auto_pad."""
        if self.auto_pad in ("NOTSET", ""):
            return self.pads
        if self.auto_pad == "VALID":
            return [0] * (2 * self.n)
        return same_pads(spatial, self.kernel, self.strides, self.dilations, self.auto_pad)

    def output_sizes(self, spatial: list[int], pads: list[int]) -> list[int]:
        """ONNX output size per spatial dim; with ceil_mode the last window must start inside input + begin pad."""
        out = []
        for i, (size, k, s, d) in enumerate(zip(spatial, self.kernel, self.strides, self.dilations)):
            span = size + pads[i] + pads[i + self.n] - ((k - 1) * d + 1)
            o = (-(-span // s) if self.ceil_mode else span // s) + 1
            if self.ceil_mode and (o - 1) * s >= size + pads[i]:
                o -= 1
            out.append(o)
        return out

    def crop(self, out, sizes: list[int]):
        """``out`` (or each of a tuple) cut to ``sizes`` on the spatial dims."""
        if isinstance(out, tuple):
            return tuple(self.crop(o, sizes) for o in out)
        if list(out.shape[2:]) == sizes:
            return out
        return out[(slice(None), slice(None)) + tuple(slice(0, s) for s in sizes)]

    @staticmethod
    def torch_pad_list(pads: list[int], n: int) -> list[int]:
        out: list[int] = []
        for d in reversed(range(n)):
            out += [pads[d], pads[d + n]]
        return out

    @staticmethod
    def symmetric(pads: list[int], n: int, kernel: list[int]):
        """Per-dim pads if torch's pooling can take them directly (symmetric, <= k/2)."""
        begin, end = pads[:n], pads[n:]
        if begin == end and all(p <= k // 2 for p, k in zip(begin, kernel)):
            return begin
        return None

    @staticmethod
    def pad_value_input(x: torch.Tensor, pads: list[int], n: int, value: float) -> torch.Tensor:
        return F.pad(x, PoolBase.torch_pad_list(pads, n), value=value)


def pool_library() -> Optional[ctypes.CDLL]:
    """``kernels/native/pool.c`` (max and global average pooling) with its argument types set, or None where it does not build here."""
    from ..native import typed

    i, p, n = ctypes.c_int, ctypes.c_void_p, ctypes.c_long
    return typed(
        "pool",
        {
            "jiasu_max_pool": ([p] + [i] * 12 + [p, i, i, i], i),
            "jiasu_global_avg_pool": ([p, i, n, i, p, p, i], i),
        },
    )
