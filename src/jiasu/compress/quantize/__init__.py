"""Quantization: calibration observers, QDQ INT8 (static, dynamic, QAT), FP16/BF16, binary/ternary
weights, the int8 lowering for jiasu's engine, per-layer sensitivity, and diagnostics.

>>> import jiasu
>>> from jiasu.compress import quantize as q
>>> model = jiasu.load("zoo:smallcnn?image_size=28&num_classes=10&padding=2")
>>> result = q.quantize_static(model, "fashion-mnist-subset", method="entropy")   # doctest: +SKIP
>>> engine = jiasu.Engine(q.lower_int8(result.model))                           # doctest: +SKIP

Modules: ``observers`` (min-max, percentile, entropy, MSE; ``OBSERVERS``), ``qparams`` (scale and
zero point), ``data`` (calibration feeds), ``static`` (the QDQ writer), ``dynamic``, ``float16``,
``qat``, ``lowbit``, ``jiasu.passes.lower_int8`` (the int8 lowering pass, re-exported here), ``sensitivity``, ``diagnostics``.
"""

from __future__ import annotations

from .data import calibration_feeds
from .dynamic import quantize_dynamic
from .float16 import convert_float
from .observers import OBSERVERS, EntropyObserver, MinMaxObserver, MSEObserver, Observer, PercentileObserver, make_observer
from .qparams import QTYPES, QParams, QType, qparams_from_range
from .static import QUANT_OPS, StaticResult, quantize_static

__all__ = [
    "OBSERVERS",
    "QTYPES",
    "QUANT_OPS",
    "EntropyObserver",
    "LowerInt8",
    "MSEObserver",
    "MinMaxObserver",
    "Observer",
    "PercentileObserver",
    "QParams",
    "QType",
    "StaticResult",
    "calibration_feeds",
    "convert_float",
    "lower_int8",
    "make_observer",
    "qparams_from_range",
    "quantize_dynamic",
    "quantize_static",
]


def __getattr__(name: str):
    # The lowering pass lives with the other passes (jiasu.passes.lower_int8) and imports this
    # package's graph helpers; importing it lazily here avoids the cycle.
    if name in ("LowerInt8", "lower_int8"):
        from ...passes import lower_int8 as module

        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
