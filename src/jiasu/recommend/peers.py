"""What the user would get without jiasu, and the final side-by-side measurement.

Peer defaults are each engine as a user runs it out of the box, with the options stated:

- the original model on our engine (the unoptimized model, jiasu's defaults);
- ONNX Runtime FP32 with its defaults; OpenVINO FP32 with ``INFERENCE_PRECISION_HINT=f32`` (its own
  default on this kind of CPU is bf16, which is slower here and not FP32);
- ONNX Runtime's stock INT8: ``onnxruntime.quantization.quantize_static`` with its defaults (QDQ,
  int8 activations and weights, per-tensor, min-max on the same calibration images), run on ONNX
  Runtime and on OpenVINO.

The search times candidates one at a time on a machine that may be busy; the final comparison
re-measures the best candidates and every peer in one run, in interleaved rounds (one timing of
each entry per round), so that drifting load hits all of them alike, and keeps each entry's best
round. The choice is made on these numbers.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from .build import Built, serialize
from .evaluate import Objective, Reference, compiled_backend, feeds_for, input_name, predict, static_costs, timed_median
from .recipe import Recipe


def stock_int8(onnx: bytes, calib_images: np.ndarray) -> bytes:
    """ONNX Runtime's ``quantize_static`` with every option at its default, calibrated on ``calib_images``."""
    from onnxruntime.quantization import CalibrationDataReader, quantize_static

    from ..frontends import load_onnx

    name = input_name(onnx)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{name: calib_images[i : i + 1].astype(np.float32)} for i in range(len(calib_images))])

        def get_next(self):
            return next(self.batches, None)

    root = logging.getLogger()
    level = root.level
    # quantize_static logs a suggestion to pre-process the model first; a stock run is exactly one without it.
    root.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            src, dst = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
            src.write_bytes(onnx)
            quantize_static(str(src), str(dst), Reader())
            int8 = dst.read_bytes()
    finally:
        root.setLevel(level)
    return serialize(load_onnx(int8, check=False))


def peer_entries(source_onnx: bytes, calib_images: np.ndarray, threads: int, batch: int, backends_available: Callable[[str], bool]) -> list[dict[str, Any]]:
    """The peer-default entries (see the module docstring) whose backend is installed."""
    entries = [
        {"label": "original FP32 on jiasu (defaults)", "kind": "original", "recipe": Recipe(backend="jiasu", threads=threads, batch=batch), "onnx": source_onnx},
        {"label": "onnxruntime FP32 (defaults)", "kind": "peer-default", "recipe": Recipe(backend="onnxruntime", threads=threads, batch=batch), "onnx": source_onnx},
        {"label": "openvino FP32 (f32 precision hint)", "kind": "peer-default", "recipe": Recipe(backend="openvino", threads=threads, batch=batch), "onnx": source_onnx},
    ]
    try:
        int8 = stock_int8(source_onnx, calib_images)
    except Exception as e:  # the stock quantizer may refuse a model: say so in the comparison
        entries.append({"label": "onnxruntime INT8 (quantize_static defaults)", "kind": "peer-default", "recipe": Recipe(backend="onnxruntime", precision="int8", threads=threads, batch=batch), "onnx": None, "error": f"quantize_static failed: {e}"})
    else:
        entries.append({"label": "onnxruntime INT8 (quantize_static defaults)", "kind": "peer-default", "recipe": Recipe(backend="onnxruntime", precision="int8", threads=threads, batch=batch), "onnx": int8})
        entries.append({"label": "openvino INT8 (the same stock QDQ model)", "kind": "peer-default", "recipe": Recipe(backend="openvino", precision="int8", threads=threads, batch=batch), "onnx": int8})
    return [e for e in entries if backends_available(e["recipe"].backend)]


def measure_final(
    entries: list[dict[str, Any]],
    reference: Reference,
    source_onnx: bytes,
    objective: Objective,
    rounds: int = 3,
    min_time_s: float = 0.25,
    progress: Optional[Callable[[str], None]] = None,
) -> list[dict[str, Any]]:
    """Accuracy, static costs and interleaved timings of every entry; JSON-safe rows (see the module docstring)."""
    rows: list[dict[str, Any]] = []
    live: list[tuple[dict, Any, dict]] = []
    for e in entries:
        recipe: Recipe = e["recipe"]
        row = {
            "label": e["label"], "kind": e["kind"], "trial": e.get("trial"), "backend": recipe.backend, "precision": recipe.precision,
            "threads": recipe.threads, "batch": recipe.batch, "status": "ok", "error": e.get("error"),
        }
        rows.append(row)
        if e.get("onnx") is None:
            row["status"] = "failed"
            continue
        if progress:
            progress(f"preparing {e['label']}")
        try:
            if e.get("accuracy") is None:
                row.update(reference.score(predict(e["onnx"], recipe, reference.images)))
            else:
                row.update({k: e[k] for k in ("accuracy", "agreement", "kl") if k in e})
            float_onnx = e.get("float_onnx") or source_onnx
            row.update(static_costs(Built(recipe, e["onnx"], float_onnx)))
            backend = compiled_backend(e["onnx"], recipe, recipe.batch, recipe.threads, for_timing=True, label=e["label"])
            feeds = feeds_for(e["onnx"], reference.images, recipe.batch)
            backend.run(feeds)
            live.append((row, backend, feeds))
        except Exception as exc:  # one broken entry must not lose the comparison
            row["status"], row["error"] = "failed", f"{type(exc).__name__}: {exc}"
    best: dict[int, float] = {}
    for r in range(rounds):
        for row, backend, feeds in live:
            if progress:
                progress(f"timing round {r + 1}/{rounds}: {row['label']}")
            try:
                t = timed_median(lambda: backend.run(feeds), min_time_s)
            except Exception as exc:
                row["status"], row["error"] = "failed", f"timing failed: {type(exc).__name__}: {exc}"
                continue
            best[id(row)] = min(best.get(id(row), float("inf")), t)
    for row, backend, _ in live:
        backend.close()
        if id(row) in best:
            row["per_image_ms"] = best[id(row)] * 1e3 / row["batch"]
            row["throughput_per_s"] = row["batch"] / best[id(row)]
        if row["status"] == "ok" and row.get(objective.name) is not None:
            row["objective"] = row[objective.name]
    return rows

