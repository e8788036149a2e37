"""fuse_conv_activation: Conv/Gemm followed by an activation becomes one jiasu::FusedConv/FusedGemm."""

from __future__ import annotations

import math

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from .conftest import build, op_counts, run_passes

RNG = np.random.default_rng(1)
X = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])
CONV_INITS = [
    numpy_helper.from_array(RNG.standard_normal((4, 3, 3, 3)).astype(np.float32), "w"),
    numpy_helper.from_array(RNG.standard_normal(4).astype(np.float32), "b"),
]
CONV = helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3], strides=[1, 1])


def _scalar(name, value):
    return numpy_helper.from_array(np.array(value, np.float32), name)


def _feeds():
    # Spread wide enough that Clip(0, 6) and HardSwish clip at both ends.
    return {"x": (RNG.standard_normal((2, 3, 8, 8)) * 3).astype(np.float32)}


# (name, activation nodes reading "c" and writing "y", extra initializers, expected activation, params)
CASES = [
    ("relu", [helper.make_node("Relu", ["c"], ["y"])], [], "Relu", []),
    ("relu6", [helper.make_node("Clip", ["c", "lo", "hi"], ["y"])], [_scalar("lo", 0), _scalar("hi", 6)], "Clip", [0.0, 6.0]),
    ("clip_min_only", [helper.make_node("Clip", ["c", "lo"], ["y"])], [_scalar("lo", -1)], "Clip", [-1.0, math.inf]),
    ("clip_max_only", [helper.make_node("Clip", ["c", "", "hi"], ["y"])], [_scalar("hi", 2)], "Clip", [-math.inf, 2.0]),
    ("leaky_relu", [helper.make_node("LeakyRelu", ["c"], ["y"], alpha=0.2)], [], "LeakyRelu", [0.2]),
    ("leaky_relu_default", [helper.make_node("LeakyRelu", ["c"], ["y"])], [], "LeakyRelu", [0.01]),
    ("hardswish", [helper.make_node("HardSwish", ["c"], ["y"])], [], "HardSwish", []),
    ("sigmoid", [helper.make_node("Sigmoid", ["c"], ["y"])], [], "Sigmoid", []),
    ("tanh", [helper.make_node("Tanh", ["c"], ["y"])], [], "Tanh", []),
    ("silu", [helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])], [], "Swish", []),
    ("silu_swapped", [helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["s", "c"], ["y"])], [], "Swish", []),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_conv_activation_fuses(case):
    _, nodes, inits, activation, params = case
    model = build([CONV, *nodes], [X], [Y], CONV_INITS + inits)
    model, reports = run_passes(model, ["fuse_conv_activation"], _feeds())
    assert op_counts(model) == {"FusedConv": 1}, "the activation (and SiLU's Sigmoid and Mul) is gone"
    node = model.graph[0]
    assert (node.domain, node.attributes["activation"].value) == ("jiasu", activation)
    assert list(node.attributes["activation_params"].value) == pytest.approx(params)
    assert [v.name for v in node.inputs] == ["x", "w", "b"]
    assert {a: list(node.attributes[a].value) for a in ("pads", "kernel_shape", "strides")} == {
        "pads": [1, 1, 1, 1], "kernel_shape": [3, 3], "strides": [1, 1]}
    assert model.opset_imports["jiasu"] == 1
    assert [o.name for o in model.graph.outputs] == ["y"]
    assert reports[0].rewrites == {f"fused {{}} Conv + {activation}": 1}


def test_gemm_relu_fuses_into_fused_gemm():
    inits = [numpy_helper.from_array(RNG.standard_normal((5, 4)).astype(np.float32), "w"),
             numpy_helper.from_array(RNG.standard_normal(5).astype(np.float32), "c")]
    nodes = [helper.make_node("Gemm", ["x", "w", "c"], ["g"], name="fc", transB=1), helper.make_node("Relu", ["g"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])
    feeds = {"x": RNG.standard_normal((3, 4)).astype(np.float32)}
    model, reports = run_passes(build(nodes, [x], [y], inits), ["fuse_conv_activation"], feeds)
    assert op_counts(model) == {"FusedGemm": 1}
    assert model.graph[0].attributes["transB"].value == 1
    assert reports[0].summary() == "fuse_conv_activation: 2 -> 1 nodes; fused 1 Gemm + Relu"


def test_conv_read_twice_is_not_fused():
    nodes = [CONV, helper.make_node("Relu", ["c"], ["y"]), helper.make_node("Neg", ["c"], ["z"])]
    z = helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 4, 8, 8])
    model, reports = run_passes(build(nodes, [X], [Y, z], CONV_INITS), ["fuse_conv_activation"], _feeds())
    assert op_counts(model) == {"Conv": 1, "Relu": 1, "Neg": 1}
    assert not reports[0].modified


def test_conv_output_that_is_a_graph_output_is_not_fused():
    c = helper.make_tensor_value_info("c", TensorProto.FLOAT, ["N", 4, 8, 8])
    model, _ = run_passes(build([CONV, helper.make_node("Relu", ["c"], ["y"])], [X], [Y, c], CONV_INITS),
                          ["fuse_conv_activation"], _feeds())
    assert op_counts(model) == {"Conv": 1, "Relu": 1}


def test_clip_with_fed_bounds_is_not_fused():
    lo = helper.make_tensor_value_info("lo", TensorProto.FLOAT, [])
    nodes = [CONV, helper.make_node("Clip", ["c", "lo", "hi"], ["y"])]
    model = build(nodes, [X, lo], [Y], CONV_INITS + [_scalar("hi", 6)])
    feeds = {**_feeds(), "lo": np.array(-0.5, np.float32)}
    model, reports = run_passes(model, ["fuse_conv_activation"], feeds)
    assert op_counts(model) == {"Conv": 1, "Clip": 1}
    assert not reports[0].modified


def test_silu_whose_sigmoid_is_read_elsewhere_is_not_fused():
    nodes = [CONV, helper.make_node("Sigmoid", ["c"], ["s"]), helper.make_node("Mul", ["c", "s"], ["y"])]
    s = helper.make_tensor_value_info("s", TensorProto.FLOAT, ["N", 4, 8, 8])
    model, _ = run_passes(build(nodes, [X], [Y, s], CONV_INITS), ["fuse_conv_activation"], _feeds())
    assert op_counts(model) == {"Conv": 1, "Sigmoid": 1, "Mul": 1}


def test_clip_bounds_as_attributes_before_opset_11_fuse():
    nodes = [CONV, helper.make_node("Clip", ["c"], ["y"], min=0.0, max=6.0)]
    model = build(nodes, [X], [Y], CONV_INITS, opset=10)
    model, _ = run_passes(model, ["fuse_conv_activation"], _feeds())
    assert op_counts(model) == {"FusedConv": 1}
    assert list(model.graph[0].attributes["activation_params"].value) == [0.0, 6.0]


def test_every_fused_activation_is_one_the_kernel_knows():
    from jiasu.kernels.conv.base import ACTIVATION_ARITY

    assert {(c[3], len(c[4])) for c in CASES} == set(ACTIVATION_ARITY.items())
