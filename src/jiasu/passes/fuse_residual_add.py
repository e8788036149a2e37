"""Fuse a residual Add (and the Relu after it) into the Conv that feeds it: ``jiasu::FusedConv(X, W, B, Z)``."""

from __future__ import annotations

import onnx_ir as ir

from ._graph import JIASU_DOMAIN, attr_value, infer_shapes, is_op, replace_pattern, same_shape, sole_consumer, use_jiasu_domain
from .base import JiasuPass
from .fuse_conv_activation import fused


class FuseResidualAdd(JiasuPass):
    """Rules:

    1. ``Relu(Add(Conv(X, W, B), Z))`` -> ``FusedConv(X, W, B, Z, activation="Relu")``;
    2. ``Add(Conv(X, W, B), Z)`` with no Relu after it -> ``FusedConv(X, W, B, Z)``.

    Either Add operand may be the Conv (when both are, the first one fuses and
    the other is Z). The Conv may already be a FusedConv without an activation
    and without a Z; its output must feed only the Add; Z must have exactly the
    Conv output's shape (from ONNX shape inference: no broadcasting Add fuses).
    """

    name = "fuse_residual_add"

    def rewrite(self, model: ir.Model) -> None:
        graph = model.graph
        infer_shapes(model)
        for add in list(graph):
            if add.graph is not graph or not is_op(add, "Add") or len(add.inputs) != 2:
                continue
            for i in (0, 1):
                y, z = add.inputs[i], add.inputs[1 - i]
                conv = y.producer() if y is not None else None
                if conv is None or not self._plain_conv(conv) or sole_consumer(y) is not add or z is None or y is z:
                    continue
                if not same_shape(y.shape, z.shape) or not same_shape(y.shape, add.outputs[0].shape):
                    continue
                relu = sole_consumer(add.outputs[0])
                nodes, last, activation = [add], add, ""
                if relu is not None and is_op(relu, "Relu"):
                    nodes, last, activation = [add, relu], relu, "Relu"
                new = fused(conv, activation, [], extra=z)
                graph.insert_before(last, new)
                replace_pattern(graph, [conv, *nodes], last.outputs[0], new.outputs[0])
                use_jiasu_domain(model)
                self.count("fused {} Conv + Add" + (" + Relu" if activation else ""))
                break

    @staticmethod
    def _plain_conv(node: ir.Node) -> bool:
        if node.graph is None:
            return False
        if is_op(node, "Conv"):
            return True
        has_z = len(node.inputs) > 3 and node.inputs[3] is not None
        return is_op(node, "FusedConv", JIASU_DOMAIN) and not attr_value(node, "activation", "") and not has_z
