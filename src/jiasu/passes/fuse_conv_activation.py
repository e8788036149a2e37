"""Fuse the activation that follows a Conv or Gemm into one ``jiasu::FusedConv`` / ``jiasu::FusedGemm`` node."""

from __future__ import annotations

import math
from typing import Optional

import onnx_ir as ir

from ._graph import (
    JIASU_DOMAIN,
    attr_value,
    constant,
    consumers,
    fused_attributes,
    infer_shapes,
    is_op,
    replace_pattern,
    sole_consumer,
    use_jiasu_domain,
)
from .base import JiasuPass


def activation_of(node: ir.Node) -> Optional[tuple[str, list[float]]]:
    """``(activation, activation_params)`` if ``node`` is an activation a fused op can apply, else None.

    Clip fuses only with constant bounds (a missing bound is -inf/+inf);
    ``x * Sigmoid(x)`` (SiLU) is matched by the caller, not here.
    """
    if node.domain != "":
        return None
    op = node.op_type
    if op in ("Relu", "HardSwish", "Sigmoid", "Tanh"):
        return op, []
    if op == "LeakyRelu":
        return op, [float(attr_value(node, "alpha", 0.01))]
    if op == "Clip":
        bounds = []
        for i, name, default in ((1, "min", -math.inf), (2, "max", math.inf)):
            if len(node.inputs) > i and node.inputs[i] is not None and node.inputs[i].name:
                value = constant(node.inputs[i])
                if value is None or value.size != 1:
                    return None
                bounds.append(float(value.reshape(-1)[0]))
            else:
                bounds.append(float(attr_value(node, name, default)))
        return op, bounds
    return None


def takes_activation(node: ir.Node) -> bool:
    """A Conv or Gemm, or a FusedConv/FusedGemm without an activation yet."""
    if node.domain == "" and node.op_type in ("Conv", "Gemm"):
        return True
    return node.domain == JIASU_DOMAIN and node.op_type in ("FusedConv", "FusedGemm") and not attr_value(node, "activation", "")


def fused(node: ir.Node, activation: str, params: list[float], extra: Optional[ir.Value] = None) -> ir.Node:
    """The fused node replacing ``node`` (Conv, Gemm or an earlier fused one) with ``activation`` applied.

    ``extra`` is FusedConv's Z (the residual added before the activation).
    """
    op = "FusedGemm" if node.op_type in ("Gemm", "FusedGemm") else "FusedConv"
    inputs = list(node.inputs)
    if extra is not None:
        inputs = (inputs + [None] * 3)[:3] + [extra]
    return ir.Node(JIASU_DOMAIN, op, inputs, fused_attributes(node, activation, params), name=node.name, num_outputs=1)


class FuseConvActivation(JiasuPass):
    """Rules (the intermediate value must have exactly one reader and not be a graph output):

    1. ``act(Conv(X, W, B))`` -> ``FusedConv(X, W, B, activation=act)`` for Relu,
       LeakyRelu, HardSwish, Sigmoid, Tanh and Clip with constant bounds (ReLU6);
    2. ``Mul(y, Sigmoid(y))`` with ``y = Conv(...)`` (SiLU; y read by exactly
       these two) -> ``FusedConv(..., activation="Swish")``;
    3. the same for Gemm -> ``FusedGemm``, and for a FusedConv/FusedGemm that
       has no activation yet (a residual ``FusedConv(X, W, B, Z)`` then gets its
       activation after the sum, as the op's contract says).
    """

    name = "fuse_conv_activation"

    def rewrite(self, model: ir.Model) -> None:
        graph = model.graph
        # Fused outputs inherit the shapes of the values they replace, so a later
        # fuse_residual_add can still compare shapes past them.
        infer_shapes(model)
        for producer in list(graph):
            if producer.graph is not graph or not takes_activation(producer):
                continue
            pattern = self._match(producer.outputs[0])
            if pattern is None:
                continue
            (activation, params), nodes, last = pattern
            new = fused(producer, activation, params)
            graph.insert_before(last, new)
            replace_pattern(graph, [producer, *nodes], last.outputs[0], new.outputs[0])
            use_jiasu_domain(model)
            self.count(f"fused {{}} {'Gemm' if new.op_type == 'FusedGemm' else 'Conv'} + {activation}")

    @staticmethod
    def _match(y: ir.Value) -> Optional[tuple[tuple[str, list[float]], list[ir.Node], ir.Node]]:
        """``(activation, nodes of the pattern after the producer, the node whose output is the result)``."""
        if y.is_graph_output():
            return None
        readers = consumers(y)
        if len(readers) == 1 and sole_consumer(y) is not None:
            act = activation_of(readers[0])
            return (act, readers, readers[0]) if act is not None else None
        if len(readers) == 2 and len(list(y.uses())) == 2:
            sigmoid = next((n for n in readers if is_op(n, "Sigmoid")), None)
            mul = next((n for n in readers if is_op(n, "Mul")), None)
            if sigmoid is None or mul is None or sole_consumer(sigmoid.outputs[0]) is not mul:
                return None
            if set(mul.inputs) != {y, sigmoid.outputs[0]}:
                return None
            return ("Swish", []), [sigmoid, mul], mul
        return None
