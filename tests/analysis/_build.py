"""Tiny graphs for the analysis tests: one node (or a few) with an activation input and initializers."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
from onnx import TensorProto, helper, numpy_helper

from jiasu.analysis.counts import NodeCounts, count_nodes
from jiasu.analysis.graph import prepare

from ..conftest import make_model


def one_node(op_type, x_shape, *weights, x_dtype=TensorProto.FLOAT, n_outputs=1, opset=17, y_shape=None, **attrs) -> ir.Model:
    """``op_type(x, *weights)``; a weight is an array (an initializer), ``None`` (an absent input) or a
    string naming a second activation input of the same shape as x. ``y_shape`` declares the output
    (FLOAT) where ONNX shape inference cannot infer it. ``"domain::Op"`` is an op of another domain
    (jiasu's fused ops), declared at version 1."""
    inputs, names, inits = [helper.make_tensor_value_info("x", x_dtype, x_shape)], ["x"], []
    for i, w in enumerate(weights):
        if w is None:
            names.append("")
        elif isinstance(w, str):
            inputs.append(helper.make_tensor_value_info(w, x_dtype, x_shape))
            names.append(w)
        else:
            inits.append(numpy_helper.from_array(np.asarray(w), f"w{i}"))
            names.append(f"w{i}")
    outputs = [f"y{i}" for i in range(n_outputs)]
    domain, _, op_type = op_type.rpartition("::")
    node = helper.make_node(op_type, names, outputs, name="node", domain=domain or None, **attrs)
    if y_shape is not None:
        y = [helper.make_tensor_value_info(o, TensorProto.FLOAT, y_shape) for o in outputs]
    else:
        y = [helper.make_empty_tensor_value_info(o) for o in outputs]
    proto = make_model([node], inputs, y, inits, opset=opset)
    if domain:
        proto.opset_import.append(helper.make_opsetid(domain, 1))
    return ir.serde.deserialize_model(proto)


def counted(model: ir.Model, batch: int = 1) -> tuple[list[NodeCounts], list[str]]:
    prepared = prepare(model, batch)
    counts, warnings = count_nodes(prepared)
    return counts, prepared.warnings + warnings


def ops_of(op_type, x_shape, *weights, **attrs):
    """The single node's Ops, asserting nothing was left uncounted."""
    counts, warnings = counted(one_node(op_type, x_shape, *weights, **attrs))
    assert warnings == []
    (node,) = counts
    return node.ops


def f32(*shape) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape).astype(np.float32)
