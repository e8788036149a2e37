"""Per-layer sensitivity and mixed precision: which layers INT8 hurts, and which to keep in float.

:func:`layer_sensitivity` quantizes one layer at a time (every other layer float), runs the model on
evaluation data, and measures the output error against the float model (relative L2) and, with
labels, the accuracy; layers come back most sensitive first. Calibration runs once for all of them.

:func:`mixed_precision` starts from the fully quantized model and, while the accuracy drop exceeds
``budget`` points, keeps the next most sensitive layer in float (in the order above).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import onnx_ir as ir

from .static import StaticResult, quantize_static


@dataclass
class LayerSensitivity:
    name: str
    op_type: str
    relative_error: float  # ||y_int8 - y_float|| / ||y_float|| over the evaluation data
    accuracy: Optional[float] = None  # percent, with labels


def _run(model: ir.Model, images: np.ndarray, batch: int = 500) -> np.ndarray:
    from ...runtime.engine import Engine

    engine = Engine(model)
    name = engine.inputs[0].name
    out = engine.outputs[0].name
    return np.concatenate([engine.run({name: images[i : i + batch]})[out].numpy() for i in range(0, len(images), batch)])


def _acc(y: np.ndarray, labels: Optional[np.ndarray]) -> Optional[float]:
    return None if labels is None else float(100.0 * np.mean(y.reshape(len(y), -1).argmax(1) == labels))


def _rel(y: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(y - ref) / max(np.linalg.norm(ref), 1e-30))


def layer_sensitivity(
    model: ir.Model, calib: Any, images: np.ndarray, labels: Optional[np.ndarray] = None, *, method: str = "minmax", **options
) -> tuple[list[LayerSensitivity], StaticResult]:
    """Layers most sensitive first (by accuracy when ``labels`` are given, else by output error), and the full INT8 result."""
    full = quantize_static(model, calib, method=method, **options)
    ref = _run(model, images)
    ops = {n.name: n.op_type for n in model.graph}
    rows = []
    for name in full.plan.nodes:
        only = quantize_static(model, calib, method=method, exclude=[n for n in full.plan.nodes if n != name], params=full.params, **options)
        y = _run(only.model, images)
        rows.append(LayerSensitivity(name, ops.get(name, "?"), _rel(y, ref), _acc(y, labels)))
    if labels is not None:
        rows.sort(key=lambda r: (r.accuracy, -r.relative_error))
    else:
        rows.sort(key=lambda r: -r.relative_error)
    return rows, full


@dataclass
class MixedResult:
    result: StaticResult
    kept_float: list[str]
    float_accuracy: Optional[float]
    int8_accuracy: Optional[float]  # everything quantized
    accuracy: Optional[float]  # the returned model
    relative_error: float
    ranking: list[LayerSensitivity]


def mixed_precision(
    model: ir.Model, calib: Any, images: np.ndarray, labels: np.ndarray, *, budget: float = 0.5, method: str = "minmax", **options
) -> MixedResult:
    """Fully INT8 if its accuracy drop is within ``budget`` points, else float for the most sensitive layers until it is."""
    ranking, full = layer_sensitivity(model, calib, images, labels, method=method, **options)
    ref = _run(model, images)
    float_acc = _acc(ref, labels)
    y = _run(full.model, images)
    int8_acc = acc = _acc(y, labels)
    result, kept = full, []
    for row in ranking:
        if float_acc - acc <= budget or len(kept) == len(ranking) - 1:
            break
        kept.append(row.name)
        result = quantize_static(model, calib, method=method, exclude=kept, params=full.params, **options)
        y = _run(result.model, images)
        acc = _acc(y, labels)
    return MixedResult(result, kept, float_acc, int8_acc, acc, _rel(y, ref), ranking)
