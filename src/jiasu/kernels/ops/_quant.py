"""Helpers shared by the quantization kernels (QuantizeLinear, QLinearConv, the jiasu int8 kernels...).

Not kernels themselves: nothing here is registered.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from typing import Optional

import torch

#: integer range of each quantized element type ONNX uses here
QRANGE: dict[torch.dtype, tuple[int, int]] = {
    torch.uint8: (0, 255),
    torch.int8: (-128, 127),
    torch.int16: (-32768, 32767),
    torch.int32: (-(2**31), 2**31 - 1),
}

# torch marks its quantized-tensor constructors deprecated (pytorch#184982) but they are the only
# public door to its prepacked int8 conv/linear kernels (fbgemm/oneDNN); say it once, not per call.
warnings.filterwarnings("ignore", message=r".*quantize_per_tensor, torch.quantize_per_channel.*", category=UserWarning)


#: The largest |int8 weight| whose u8 x s8 product pairs fit the int16 that AVX2's vpmaddubsw adds them in
#: (2 x 255 x 64 = 32640): what 7-bit weights (``reduce_range``) guarantee.
SATURATION_FREE_WEIGHT = 64


@functools.lru_cache(maxsize=1)
def _products_saturate() -> bool:
    from ...compress.quantize.diagnostics import int8_products_saturate

    return int8_products_saturate()


def prepacked_is_exact(w: torch.Tensor) -> bool:
    """Whether torch's prepacked int8 conv/linear compute exactly with int8 weight ``w`` on this CPU.

    On x86 without VNNI they multiply with vpmaddubsw, which saturates for weights beyond +-64 (measured on
    an AVX2-only EPYC: a QLinearConv up to 25 steps off); the kernels then take their exact path instead.
    """
    return not _products_saturate() or int(w.to(torch.int16).abs().max()) <= SATURATION_FREE_WEIGHT


@contextlib.contextmanager
def quantized_engine(name: str):
    """Run with torch's quantized engine set to ``name`` (the op dispatch reads this global), then restore it."""
    previous = torch.backends.quantized.engine
    if previous == name:
        yield
        return
    torch.backends.quantized.engine = name
    try:
        yield
    finally:
        torch.backends.quantized.engine = previous


def broadcast_param(p: torch.Tensor, x: torch.Tensor, axis: int, block_size: int = 0) -> torch.Tensor:
    """Shape a scale / zero point for element-wise use against ``x``: scalar, per-axis (1-D) or blocked (same rank)."""
    if p.dim() == 0 or p.numel() == 1 and p.dim() <= 1 and block_size == 0:
        return p.reshape(())
    axis = axis + x.dim() if axis < 0 else axis
    if block_size:
        return p.repeat_interleave(block_size, dim=axis).narrow(axis, 0, x.shape[axis])
    shape = [1] * x.dim()
    shape[axis] = -1
    return p.reshape(shape)


def quantize(x: torch.Tensor, scale: torch.Tensor, zero_point: Optional[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    """saturate(round_half_even(x / scale) + zero_point), computed in float32 as ONNX specifies."""
    lo, hi = QRANGE[dtype]
    q = torch.round(x.to(torch.float32) / scale.to(torch.float32))
    if zero_point is not None:
        q = q + zero_point.to(torch.float32)
    return q.clamp_(lo, hi).to(dtype)


def dequantize(q: torch.Tensor, scale: torch.Tensor, zero_point: Optional[torch.Tensor]) -> torch.Tensor:
    """(q - zero_point) * scale in float32 (int32 differences are exact)."""
    if zero_point is not None and bool((zero_point != 0).any()):
        q = q.to(torch.int32) - zero_point.to(torch.int32)
    return q.to(torch.float32) * scale.to(torch.float32)


def torch_qdtype(dtype: torch.dtype) -> torch.dtype:
    """torch's quantized dtype for a plain integer one (uint8 -> quint8, int8 -> qint8)."""
    return {torch.uint8: torch.quint8, torch.int8: torch.qint8, torch.int32: torch.qint32}[dtype]


def as_qtensor(q: torch.Tensor, scale: float, zero_point: int) -> torch.Tensor:
    """View a uint8/int8 tensor as a torch per-tensor quantized tensor (no copy)."""
    return torch._make_per_tensor_quantized_tensor(q, float(scale), int(zero_point))


def per_channel_weight(w_q: torch.Tensor, scale: torch.Tensor, zero_point: Optional[torch.Tensor], axis: int) -> torch.Tensor:
    """An int8 weight as a torch qint8 tensor, per-channel along ``axis`` (or per-tensor for a scalar scale)."""
    scale = scale.reshape(-1).to(torch.float64)
    zp = torch.zeros_like(scale, dtype=torch.int64) if zero_point is None else zero_point.reshape(-1).to(torch.int64).expand(scale.shape)
    if scale.numel() == 1:
        return torch._make_per_tensor_quantized_tensor(w_q, float(scale[0]), int(zp[0]))
    return torch._make_per_channel_quantized_tensor(w_q, scale, zp, axis)


def requantize(acc: torch.Tensor, multiplier: torch.Tensor, zero_point: Optional[torch.Tensor], dtype: torch.dtype, relu: bool = False) -> torch.Tensor:
    """int32 accumulators to ``dtype``: saturate(round(acc * multiplier) + zero_point), float32 multiplier as ORT and fbgemm do."""
    y = torch.round(acc.to(torch.float32) * multiplier.to(torch.float32))
    if zero_point is not None:
        y = y + zero_point.to(torch.float32)
    lo, hi = QRANGE[dtype]
    if relu:  # ReLU on the real value is a clamp at the zero point on the quantized one
        lo = max(lo, int(zero_point.reshape(-1)[0])) if zero_point is not None else max(lo, 0)
    return y.clamp_(lo, hi).to(dtype)


def centered(q: torch.Tensor, zero_point: Optional[torch.Tensor], shape_for: Optional[list[int]] = None) -> torch.Tensor:
    """q - zero_point as float64: integer-exact for every int8/int32 product sum a model can hold (< 2**53)."""
    out = q.to(torch.float64)
    if zero_point is not None:
        z = zero_point.to(torch.float64)
        out = out - (z.reshape(shape_for) if shape_for is not None and z.dim() else z)
    return out
