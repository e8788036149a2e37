"""Quantization parameters: the integer type, and (scale, zero point) per tensor or per channel.

The affine map is ONNX's: ``q = saturate(round_half_even(x / scale) + zero_point)``,
``x ~= (q - zero_point) * scale``. A range [lo, hi] becomes parameters in :func:`qparams_from_range`;
the observers (``observers.py``) only decide the range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ...errors import JiasuError


@dataclass(frozen=True)
class QType:
    """An integer type and the range quantized values may take (``restricted`` int8 drops -128)."""

    name: str
    dtype: type
    qmin: int
    qmax: int


#: Quantized types by name. int8's symmetric range is -127..127 so that w and -w quantize alike and
#: an int8 x int8 product pair never overflows VNNI's int16 intermediate (the fbgemm/ORT convention).
QTYPES: dict[str, QType] = {
    "uint8": QType("uint8", np.uint8, 0, 255),
    "int8": QType("int8", np.int8, -128, 127),
}


#: Weight types in 7 bits (ONNX Runtime's ``reduce_range``): int8 -64..64, so two u8 x s8 products fit
#: the int16 that AVX2's vpmaddubsw adds them in (see ``diagnostics.int8_products_saturate``).
REDUCED: dict[str, QType] = {
    "uint8": QType("uint8 (7-bit)", np.uint8, 0, 127),
    "int8": QType("int8 (7-bit)", np.int8, -64, 64),
}


def weight_qtype(name: str, reduce_range: bool) -> QType:
    """The weight type ``name``, narrowed to 7 bits when ``reduce_range``."""
    qt = qtype(name)
    return REDUCED[name] if reduce_range else qt


def resolve_reduce_range(reduce_range: Optional[bool]) -> bool:
    """``reduce_range`` as given, or (None) whether int8 products saturate on this CPU."""
    if reduce_range is not None:
        return bool(reduce_range)
    from .diagnostics import int8_products_saturate

    return int8_products_saturate()


def qtype(name: str) -> QType:
    try:
        return QTYPES[name]
    except KeyError:
        raise JiasuError(f"unknown quantized type {name!r}; choose one of: {', '.join(QTYPES)}") from None


@dataclass(frozen=True)
class QParams:
    """scale (float32) and zero_point (the quantized type) per tensor (shape ()) or per channel along ``axis``."""

    scale: np.ndarray
    zero_point: np.ndarray
    qtype: QType
    axis: Optional[int] = None

    def _shaped(self, p: np.ndarray, x: np.ndarray) -> np.ndarray:
        if self.axis is None or p.ndim == 0:
            return p
        shape = [1] * x.ndim
        shape[self.axis] = -1
        return p.reshape(shape)

    def quantize(self, x: np.ndarray) -> np.ndarray:
        q = np.rint(np.asarray(x, np.float32) / self._shaped(self.scale, x)) + self._shaped(self.zero_point, x).astype(np.float32)
        return np.clip(q, self.qtype.qmin, self.qtype.qmax).astype(self.qtype.dtype)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        zp = self._shaped(self.zero_point, q).astype(np.int32)
        return ((q.astype(np.int32) - zp).astype(np.float32) * self._shaped(self.scale, q)).astype(np.float32)

    @property
    def step(self) -> np.ndarray:
        """One quantization step (= scale) in real units."""
        return self.scale


def qparams_from_range(lo, hi, qt: QType | str, *, symmetric: bool = False, axis: Optional[int] = None) -> QParams:
    """Parameters that map [lo, hi] (scalars, or arrays per channel) onto ``qt``.

    The range is first widened to contain 0, so that zero (padding, ReLU's floor) is exact. Symmetric:
    zero point 0 for int8 (128 for uint8) and scale = max(|lo|, |hi|) / 127 either way. Asymmetric: the whole integer
    range covers [lo, hi]. A zero-width range gets scale 1 (every value is 0 anyway).
    """
    qt = qtype(qt) if isinstance(qt, str) else qt
    lo = np.minimum(np.asarray(lo, np.float64), 0.0)
    hi = np.maximum(np.asarray(hi, np.float64), 0.0)
    if symmetric:
        amax = np.maximum(-lo, hi)
        if qt.qmin < 0:
            scale = amax / qt.qmax
            zp = np.zeros_like(scale)
        else:
            mid = (qt.qmax + qt.qmin + 1) // 2  # 128: the positive side has one level fewer
            scale = amax / (qt.qmax - mid)
            zp = np.full_like(scale, mid)
    else:
        scale = (hi - lo) / (qt.qmax - qt.qmin)
        safe = np.where(scale > 0, scale, 1.0)
        zp = np.clip(np.rint(qt.qmin - lo / safe), qt.qmin, qt.qmax)
    scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
    return QParams(scale, zp.astype(qt.dtype), qt, axis)
