"""Fold a max pool into the convolution before it: compute only the pooled outputs, one phase per window offset.

``MaxPool(p x q, stride p x q)(Relu(Conv(X, W, B)))`` with a stride-1 conv equals

    Relu(Max_{a < p, b < q} Conv(X, W_ab, B, stride p x q))

where ``W_ab`` is ``W`` placed at offset (a, b) of a (kh + p - 1) x (kw + q - 1) kernel of zeros: the conv
output at (p*i + a, q*j + b) is the stride-(p, q) conv of that shifted kernel at (i, j). All ``p*q``
phases run as one conv with ``p*q`` times the output channels, followed by a tree of elementwise Max over
its channel slices. Sizes match for any input and padding: a pool over ``L`` conv outputs gives
``floor(L / p)``, and so does the strided conv. ReLU commutes with the maximum, so it moves after it.

Why: the conv computes ``p*q`` times fewer output positions and nothing reads the full-resolution map; the
cost is ``(kh + p - 1)(kw + q - 1) / (kh kw)`` the MACs per pooled output per phase (64/49 for smallcnn's 7x7).
It pays where the first layers are thin and the input large, as in smallcnn on 28x28 (a 4-channel conv1
becomes a 16-channel one, the vector width of AVX-512 int8 kernels): measured on OpenVINO INT8 in
``benchmarks/smallcnn_pool_phases.py``. It is not in the default pass list (on wide layers the extra MACs
cost more than the pool saves); ``jiasu optimize`` tries it as the ``pool_phases`` recipe knob, on the
float model every backend then receives.

Matched: a Conv with one input group, strides and dilations 1, constant weight (and bias), whose output
is read only by a Relu (optional) read only by a MaxPool with kernel == strides, no padding, dilations 1,
ceil_mode 0 and no indices output; and only where the phases cost at most :data:`MAX_MAC_RATIO` times the
conv's MACs (smallcnn's 7x7 conv before a 2x2 pool: 64/49; its 6x6 conv before a 3x3 pool, 64/36, is left).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import onnx_ir as ir

from ._graph import attr_value, constant, is_op, new_initializer, remove_dead, replace_pattern, sole_consumer
from .base import JiasuPass

#: Largest (kh + p - 1)(kw + q - 1) / (kh kw) rewritten: beyond it the extra MACs outweigh the pool saved.
MAX_MAC_RATIO = 1.5


def _ones(node: ir.Node, name: str, rank: int) -> bool:
    return list(attr_value(node, name, [1] * rank)) == [1] * rank


class PoolPhases(JiasuPass):
    """Conv (stride 1) [-> Relu] -> MaxPool (kernel == stride) -> one strided Conv over the pool's phases, a Max tree [, Relu].

    Exact; only where it costs at most ``MAX_MAC_RATIO`` times the conv's MACs (see the module docstring).
    """

    name = "pool_phases"

    @classmethod
    def foldable(cls, model: ir.Model) -> int:
        """How many max pools :meth:`rewrite` would fold, without rewriting (or copying) anything."""
        graph = model.graph
        return sum(1 for node in graph if is_op(node, "Conv") and cls._match(node) is not None)

    def rewrite(self, model: ir.Model) -> None:
        graph = model.graph
        for conv in list(graph):
            if conv.graph is not graph or not is_op(conv, "Conv"):
                continue
            match = self._match(conv)
            if match is None:
                continue
            relu, pool, weight, bias, (p, q) = match
            self._apply(graph, conv, relu, pool, weight, bias, p, q)
            self.count("folded {} MaxPool into the conv before it (pool phases)")

    @staticmethod
    def _match(conv: ir.Node):
        weight = constant(conv.inputs[1]) if len(conv.inputs) > 1 else None
        if weight is None or weight.ndim != 4 or attr_value(conv, "group", 1) != 1:
            return None
        if not (_ones(conv, "strides", 2) and _ones(conv, "dilations", 2)):
            return None
        if attr_value(conv, "auto_pad", "NOTSET") not in ("NOTSET", b"NOTSET"):
            return None
        bias = None
        if len(conv.inputs) > 2 and conv.inputs[2] is not None and conv.inputs[2].name:
            bias = constant(conv.inputs[2])
            if bias is None:
                return None
        reader = sole_consumer(conv.outputs[0])
        relu = reader if is_op(reader, "Relu") else None
        pool = sole_consumer(relu.outputs[0]) if relu is not None else reader
        if not is_op(pool, "MaxPool") or len(pool.outputs) != 1:
            return None
        kernel = list(attr_value(pool, "kernel_shape", []))
        if len(kernel) != 2 or list(attr_value(pool, "strides", [1, 1])) != kernel:
            return None
        if any(attr_value(pool, "pads", [0, 0, 0, 0])) or not _ones(pool, "dilations", 2) or attr_value(pool, "ceil_mode", 0):
            return None
        if attr_value(pool, "auto_pad", "NOTSET") not in ("NOTSET", b"NOTSET") or kernel == [1, 1]:
            return None
        kh, kw = weight.shape[2:]
        if (kh + kernel[0] - 1) * (kw + kernel[1] - 1) > MAX_MAC_RATIO * kh * kw:
            return None
        return relu, pool, weight, bias, tuple(kernel)

    @staticmethod
    def _apply(graph: ir.Graph, conv: ir.Node, relu: Optional[ir.Node], pool: ir.Node, weight: np.ndarray, bias, p: int, q: int) -> None:
        c_out, c_in, kh, kw = weight.shape
        phases = [(a, b) for a in range(p) for b in range(q)]
        w = np.zeros((len(phases), c_out, c_in, kh + p - 1, kw + q - 1), dtype=weight.dtype)
        for i, (a, b) in enumerate(phases):
            w[i, :, :, a : a + kh, b : b + kw] = weight
        base = conv.name or "conv"
        inputs = [conv.inputs[0], new_initializer(graph, f"{base}_phase_weight", w.reshape(len(phases) * c_out, c_in, kh + p - 1, kw + q - 1))]
        if bias is not None:
            inputs.append(new_initializer(graph, f"{base}_phase_bias", np.tile(bias, len(phases))))
        attrs = [ir.AttrInt64s("kernel_shape", [kh + p - 1, kw + q - 1]), ir.AttrInt64s("strides", [p, q]),
                 ir.AttrInt64s("pads", list(attr_value(conv, "pads", [0, 0, 0, 0])))]
        new_conv = ir.Node("", "Conv", inputs, attrs, name=f"{base}_phases", num_outputs=1)
        nodes = [new_conv]
        # One Slice per phase along the channels, then a balanced tree of binary Max (what OpenVINO's INT8
        # kernels took fastest in the measurement, ahead of Reshape + ReduceMax).
        axes = new_initializer(graph, f"{base}_phase_axes", np.array([1], np.int64))
        level = []
        for i in range(len(phases)):
            starts = new_initializer(graph, f"{base}_phase{i}_start", np.array([i * c_out], np.int64))
            ends = new_initializer(graph, f"{base}_phase{i}_end", np.array([(i + 1) * c_out], np.int64))
            s = ir.Node("", "Slice", [new_conv.outputs[0], starts, ends, axes], name=f"{base}_phase{i}", num_outputs=1)
            nodes.append(s)
            level.append(s.outputs[0])
        while len(level) > 1:
            nxt = []
            for j in range(0, len(level) - 1, 2):
                m = ir.Node("", "Max", [level[j], level[j + 1]], name=f"{base}_phase_max{len(nodes)}", num_outputs=1)
                nodes.append(m)
                nxt.append(m.outputs[0])
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        result = level[0]
        if relu is not None:
            r = ir.Node("", "Relu", [result], name=relu.name, num_outputs=1)
            nodes.append(r)
            result = r.outputs[0]
        for node in nodes:
            graph.insert_before(pool, node)
        old_params = list(conv.inputs[1:])
        replace_pattern(graph, [conv, *([relu] if relu is not None else []), pool], pool.outputs[0], result)
        remove_dead(graph, old_params)
