"""The reference we check our engine against: ONNX Runtime on the same model, and the error metric."""

from __future__ import annotations

from typing import Mapping, Optional

import numpy as np
import onnx_ir as ir


def relative_l2(actual: np.ndarray, expected: np.ndarray) -> float:
    """||actual - expected|| / ||expected|| in float64 (absolute error when expected is all zeros)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {e.shape}")
    denom = np.linalg.norm(e)
    diff = np.linalg.norm(a - e)
    return float(diff / denom) if denom > 0 else float(diff)


# ONNX Runtime 1.31 folds a zero Pad in front of a MaxPool into the pool's pads,
# but MaxPool pads with -inf: where the padded border is all negative (after a
# LeakyRelu, say, as in yolov3_tiny) the result changes by ~4e-2. The reference
# must be right, so that one rewrite is switched off.
DISABLED_ORT_OPTIMIZERS = ["Pad_Fusion"]


def onnxruntime_session(model: ir.Model | bytes, threads: Optional[int] = None):
    """An ONNX Runtime CPU session for ``model``: all graph optimizations on except the known-wrong ones."""
    import onnxruntime as ort

    data = model if isinstance(model, bytes) else ir.to_proto(model).SerializeToString()
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"], disabled_optimizers=DISABLED_ORT_OPTIMIZERS)


def run_onnxruntime(model: ir.Model | bytes, feeds: Mapping[str, np.ndarray], threads: Optional[int] = None) -> dict[str, np.ndarray]:
    session = onnxruntime_session(model, threads)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(feeds))))
