"""Fold inference-mode BatchNormalization into the Conv or Gemm in front of it."""

from __future__ import annotations

from typing import Optional

import numpy as np
import onnx_ir as ir

from ._graph import attr_value, constant, is_op, new_initializer, remove_dead, replace_pattern, sole_consumer
from .base import JiasuPass


class FoldBatchNorm(JiasuPass):
    """``BatchNormalization(Conv(X, W, B))`` -> ``Conv(X, W * s, (B - mean) * s + beta)``, ``s = gamma / sqrt(var + eps)``.

    Rules: the BN is in inference mode (``training_mode`` 0, one output); its
    scale, bias, mean and variance are constant; the Conv's weight (and bias, if
    any) is constant and its output feeds only the BN. ``Gemm -> BN`` folds the
    same way into B's output columns and C (beta becomes 1). The folded weights
    are new initializers (the originals may be shared); orphaned ones are dropped.
    """

    name = "fold_batchnorm"

    def rewrite(self, model: ir.Model) -> None:
        graph = model.graph
        for bn in list(graph):
            if not is_op(bn, "BatchNormalization") or bn.inputs[0] is None:
                continue
            if attr_value(bn, "training_mode", 0) != 0 or sum(1 for o in bn.outputs if o.name) != 1:
                continue
            params = [constant(v) for v in bn.inputs[1:5]]
            if len(params) != 4 or any(p is None for p in params):
                continue
            producer = bn.inputs[0].producer()
            if producer is None or sole_consumer(bn.inputs[0]) is not bn:
                continue
            gamma, beta, mean, var = (p.astype(np.float64) for p in params)
            scale = gamma / np.sqrt(var + float(attr_value(bn, "epsilon", 1e-5)))
            shift = beta - mean * scale
            if is_op(producer, "Conv"):
                done = self._fold_conv(graph, producer, scale, shift)
            elif is_op(producer, "Gemm"):
                done = self._fold_gemm(graph, producer, scale, shift)
            else:
                continue
            if not done:
                continue
            stale = list(bn.inputs[1:])
            replace_pattern(graph, [bn], bn.outputs[0], producer.outputs[0])
            remove_dead(graph, stale)
            self.count("folded {} BatchNormalization")

    @staticmethod
    def _fold_conv(graph: ir.Graph, conv: ir.Node, scale: np.ndarray, shift: np.ndarray) -> bool:
        w = constant(conv.inputs[1]) if len(conv.inputs) > 1 else None
        if w is None or w.shape[0] != scale.shape[0] or not np.issubdtype(w.dtype, np.floating):
            return False
        has_bias = len(conv.inputs) > 2 and conv.inputs[2] is not None
        b = constant(conv.inputs[2]) if has_bias else np.zeros(w.shape[0], w.dtype)
        if b is None:
            return False
        new_w = (w.astype(np.float64) * scale.reshape((-1,) + (1,) * (w.ndim - 1))).astype(w.dtype)
        new_b = (b.astype(np.float64) * scale + shift).astype(w.dtype)
        _set_inputs(graph, conv, {1: new_initializer(graph, f"{conv.name or 'conv'}.weight_bn", new_w),
                                  2: new_initializer(graph, f"{conv.name or 'conv'}.bias_bn", new_b)})
        return True

    @staticmethod
    def _fold_gemm(graph: ir.Graph, gemm: ir.Node, scale: np.ndarray, shift: np.ndarray) -> bool:
        w = constant(gemm.inputs[1])
        if w is None or w.ndim != 2 or not np.issubdtype(w.dtype, np.floating):
            return False
        trans_b = attr_value(gemm, "transB", 0)
        m = w.shape[0] if trans_b else w.shape[1]
        if m != scale.shape[0]:
            return False
        c: Optional[np.ndarray] = np.zeros(m, w.dtype)
        if len(gemm.inputs) > 2 and gemm.inputs[2] is not None:
            c = constant(gemm.inputs[2])
            if c is None or c.size not in (1, m) or (c.ndim == 2 and c.shape[0] != 1):
                return False  # a C that varies per row cannot absorb a per-column shift
            c = np.broadcast_to(c.reshape(-1), (m,))
        beta = float(attr_value(gemm, "beta", 1.0))
        new_w = w.astype(np.float64) * (scale[:, None] if trans_b else scale[None, :])
        new_c = beta * c.astype(np.float64) * scale + shift
        _set_inputs(graph, gemm, {1: new_initializer(graph, f"{gemm.name or 'gemm'}.weight_bn", new_w.astype(w.dtype)),
                                  2: new_initializer(graph, f"{gemm.name or 'gemm'}.bias_bn", new_c.astype(w.dtype))})
        gemm.attributes["beta"] = ir.AttrFloat32("beta", 1.0)
        return True


def _set_inputs(graph: ir.Graph, node: ir.Node, new: dict[int, ir.Value]) -> None:
    if len(node.inputs) < 3:
        node.resize_inputs(3)
    old = [node.inputs[i] for i in new]
    for i, value in new.items():
        node.replace_input_with(i, value)
    remove_dead(graph, old)
