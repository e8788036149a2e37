"""fuse_residual_add: Conv -> Add(Z) [-> Relu] becomes jiasu::FusedConv(X, W, B, Z)."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from .conftest import build, op_counts, run_passes

RNG = np.random.default_rng(2)
X = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 8, 8])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])
INITS = [
    numpy_helper.from_array(RNG.standard_normal((4, 4, 3, 3)).astype(np.float32), "w"),
    numpy_helper.from_array(RNG.standard_normal(4).astype(np.float32), "b"),
]
CONV = helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3])
SKIP = helper.make_node("Neg", ["x"], ["z"], name="skip")  # the residual branch: same shape as the conv output


def _feeds():
    return {"x": RNG.standard_normal((2, 4, 8, 8)).astype(np.float32)}


@pytest.mark.parametrize("operands", [["c", "z"], ["z", "c"]], ids=["conv_first", "conv_second"])
def test_add_relu_fuses(operands):
    nodes = [CONV, SKIP, helper.make_node("Add", operands, ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    model, reports = run_passes(build(nodes, [X], [Y], INITS), ["fuse_residual_add"], _feeds())
    assert op_counts(model) == {"Neg": 1, "FusedConv": 1}
    fused = next(n for n in model.graph if n.op_type == "FusedConv")
    assert [v.name for v in fused.inputs] == ["x", "w", "b", "z"]
    assert fused.attributes["activation"].value == "Relu"
    assert reports[0].rewrites == {"fused {} Conv + Add + Relu": 1}


def test_add_without_relu_fuses_and_a_later_activation_joins_it():
    nodes = [CONV, SKIP, helper.make_node("Add", ["c", "z"], ["s"]), helper.make_node("Sigmoid", ["s"], ["y"])]
    model = build(nodes, [X], [Y], INITS)
    model, reports = run_passes(model, ["fuse_residual_add", "fuse_conv_activation"], _feeds())
    assert op_counts(model) == {"Neg": 1, "FusedConv": 1}
    fused = next(n for n in model.graph if n.op_type == "FusedConv")
    assert fused.attributes["activation"].value == "Sigmoid" and fused.inputs[3].name == "z"
    assert [r.rewrites for r in reports] == [{"fused {} Conv + Add": 1}, {"fused {} Conv + Sigmoid": 1}]


def test_conv_without_bias_keeps_an_empty_bias_slot():
    conv = helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3])
    nodes = [conv, SKIP, helper.make_node("Add", ["c", "z"], ["y"])]
    model, _ = run_passes(build(nodes, [X], [Y], INITS[:1]), ["fuse_residual_add"], _feeds())
    fused = next(n for n in model.graph if n.op_type == "FusedConv")
    assert fused.inputs[2] is None and fused.inputs[3].name == "z"
    assert fused.attributes["activation"].value == ""


def test_broadcasting_add_is_not_fused():
    bias = numpy_helper.from_array(RNG.standard_normal((4, 1, 1)).astype(np.float32), "z")
    nodes = [CONV, helper.make_node("Add", ["c", "z"], ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    model, reports = run_passes(build(nodes, [X], [Y], INITS + [bias]), ["fuse_residual_add"], _feeds())
    assert op_counts(model) == {"Conv": 1, "Add": 1, "Relu": 1}
    assert not reports[0].modified


def test_conv_read_twice_is_not_fused():
    nodes = [CONV, SKIP, helper.make_node("Add", ["c", "z"], ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    c = helper.make_tensor_value_info("c", TensorProto.FLOAT, ["N", 4, 8, 8])
    model, _ = run_passes(build(nodes, [X], [Y, c], INITS), ["fuse_residual_add"], _feeds())
    assert op_counts(model) == {"Conv": 1, "Neg": 1, "Add": 1, "Relu": 1}


def test_sum_read_twice_fuses_the_add_but_not_the_relu():
    nodes = [CONV, SKIP, helper.make_node("Add", ["c", "z"], ["s"]), helper.make_node("Relu", ["s"], ["y"])]
    s = helper.make_tensor_value_info("s", TensorProto.FLOAT, ["N", 4, 8, 8])
    model, _ = run_passes(build(nodes, [X], [Y, s], INITS), ["fuse_residual_add"], _feeds())
    assert op_counts(model) == {"Neg": 1, "FusedConv": 1, "Relu": 1}
    assert [o.name for o in model.graph.outputs] == ["y", "s"]
