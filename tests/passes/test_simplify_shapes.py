"""simplify_shapes: static shape arithmetic becomes constant, Reshapes get constant targets or become Flatten."""

from __future__ import annotations

import numpy as np
import torch
from onnx import TensorProto, helper, numpy_helper

import jiasu

from .conftest import Views, build, op_counts, run_passes

RNG = np.random.default_rng(5)


def test_torchscript_view_chains_become_constant_reshapes():
    model = jiasu.frontends.load_module(Views(), torch.randn(1, 3, 8, 8))
    assert op_counts(model)["Shape"] == 4
    feeds = {"input": RNG.standard_normal((3, 3, 8, 8)).astype(np.float32)}  # batch 3 != the traced 1: stays dynamic
    model, reports = run_passes(model, ["simplify_shapes"], feeds)
    counts = op_counts(model)
    assert counts["Shape"] == counts["Gather"] == counts["Unsqueeze"] == counts["Concat"] == 0
    assert counts["Reshape"] == 2 and counts["Flatten"] == 1
    targets = [n.inputs[1].const_value.numpy().tolist() for n in model.graph if n.op_type == "Reshape"]
    assert targets == [[0, 4, -1], [0, 4, 6, 6]]
    assert reports[0].rewrites == {"made {} Reshape targets constant": 2, "turned {} Reshape into Flatten": 1}


def test_fully_static_shape_computation_becomes_constant():
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Slice", ["s", "zero", "two"], ["hw"]),
        helper.make_node("ConstantOfShape", ["hw"], ["ones"], value=numpy_helper.from_array(np.array([1.0], np.float32))),
        helper.make_node("Add", ["x", "ones"], ["y"]),
    ]
    inits = [numpy_helper.from_array(np.array([0], np.int64), "zero"), numpy_helper.from_array(np.array([2], np.int64), "two")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 5])
    model, reports = run_passes(build(nodes, [x], [y], inits), ["simplify_shapes"], {"x": RNG.standard_normal((3, 5)).astype(np.float32)})
    assert op_counts(model) == {"ConstantOfShape": 1, "Add": 1}
    assert model.graph[0].inputs[0].const_value.numpy().tolist() == [3, 5]
    assert reports[0].rewrites == {"made {} shape computations constant": 1}


def test_reshape_to_its_own_shape_is_removed():
    nodes = [helper.make_node("Reshape", ["x", "t"], ["r"]), helper.make_node("Relu", ["r"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 2])
    model = build(nodes, [x], [y], [numpy_helper.from_array(np.array([0, 4, -1], np.int64), "t")])
    model, reports = run_passes(model, ["simplify_shapes"], {"x": RNG.standard_normal((5, 4, 2)).astype(np.float32)})
    assert op_counts(model) == {"Relu": 1}
    assert reports[0].rewrites == {"removed {} no-op Reshape": 1}


def test_reshape_to_another_tensors_dims_stays():
    """The target takes its dims from ``z``, not from the reshaped ``x``: nothing static to say."""
    nodes = [
        helper.make_node("Shape", ["z"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n", "zero1"], ["n1"]),
        helper.make_node("Concat", ["n1", "minus_one"], ["t"], axis=0),
        helper.make_node("Reshape", ["x", "t"], ["y"]),
    ]
    inits = [
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        numpy_helper.from_array(np.array([0], np.int64), "zero1"),
        numpy_helper.from_array(np.array([-1], np.int64), "minus_one"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["A", 6])
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["B", 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", None])
    feeds = {"x": RNG.standard_normal((4, 6)).astype(np.float32), "z": RNG.standard_normal((2, 2)).astype(np.float32)}
    model, reports = run_passes(build(nodes, [x, z], [y], inits), ["simplify_shapes"], feeds)
    assert op_counts(model)["Reshape"] == 1 and op_counts(model)["Shape"] == 1
    assert not reports[0].modified
