"""prepare(): concrete shapes at a batch size, constant nodes, and what counts as a parameter."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
from onnx import TensorProto, helper, numpy_helper

from jiasu.analysis.counts import count_nodes
from jiasu.analysis.graph import prepare

from ..conftest import make_model


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def x_info(shape=("N", 3, 4, 4)):
    return helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))


def y_info():
    return helper.make_empty_tensor_value_info("y")


def build(nodes, inits, shape=("N", 3, 4, 4)) -> ir.Model:
    return ir.serde.deserialize_model(make_model(nodes, [x_info(shape)], [y_info()], inits))


def test_batch_is_set_and_the_model_is_left_alone(conv_relu_model):
    model = ir.serde.deserialize_model(conv_relu_model)
    prepared = prepare(model, batch=4)
    assert prepared.shapes["y"] == (4, 4, 8, 8)
    assert not isinstance(model.graph.inputs[0].shape[0], int)  # still symbolic in the caller's model
    assert prepared.parameters == {"w": 108, "b": 4}


def test_identity_copies_count_again_and_shared_values_once():
    """The exporter writes Identity(b) when two parameters hold equal values: both count.
    One value read by two nodes (weight tying) counts once."""
    nodes = [
        helper.make_node("Identity", ["b"], ["b_copy"]),
        helper.make_node("Conv", ["x", "w1", "b"], ["c1"], name="conv1"),
        helper.make_node("Conv", ["c1", "w2", "b_copy"], ["c2"], name="conv2"),
        helper.make_node("Conv", ["c2", "w2", "b"], ["y"], name="conv3"),
    ]
    inits = [init("w1", np.ones((3, 3, 1, 1), np.float32)), init("w2", np.ones((3, 3, 1, 1), np.float32)), init("b", np.zeros(3, np.float32))]
    prepared = prepare(build(nodes, inits))
    assert [n.op_type for n in prepared.constant_nodes] == ["Identity"]
    counts, _ = count_nodes(prepared)
    assert [c.parameters for c in counts] == [9 + 3, 9 + 3, 0]


def test_scalars_and_int64_are_not_parameters():
    nodes = [
        helper.make_node("Constant", [], ["lo"], value=helper.make_tensor("lo", TensorProto.FLOAT, [], [0.0])),
        helper.make_node("Constant", [], ["hi"], value=helper.make_tensor("hi", TensorProto.FLOAT, [], [6.0])),
        helper.make_node("Clip", ["x", "lo", "hi"], ["c"]),
        helper.make_node("Reshape", ["c", "shape"], ["y"]),
    ]
    prepared = prepare(build(nodes, [init("shape", np.array([0, -1], np.int64))]))
    assert prepared.parameters == {}
    assert prepared.shapes["y"] == (1, 48)


def test_constant_shape_arithmetic_is_folded_so_shapes_flow():
    """yolov3-tiny's exporter computes Pad's pads through Constant -> Transpose -> Reshape; ONNX data
    propagation stops at Transpose, so prepare() evaluates the chain and the shapes after Pad are known."""
    per_axis = np.array([[0, 0], [0, 0], [0, 1], [0, 1]], np.int64)  # (begin, end) per axis -> transposed, flattened
    nodes = [
        helper.make_node("Constant", [], ["p"], value=numpy_helper.from_array(per_axis, "p")),
        helper.make_node("Transpose", ["p"], ["pt"], perm=[1, 0]),
        helper.make_node("Reshape", ["pt", "flat"], ["pads"]),
        helper.make_node("Pad", ["x", "pads"], ["padded"]),
        helper.make_node("Conv", ["padded", "w"], ["y"], name="conv"),
    ]
    inits = [init("flat", np.array([-1], np.int64)), init("w", np.ones((2, 3, 2, 2), np.float32))]
    prepared = prepare(build(nodes, inits))
    assert [n.op_type for n in prepared.constant_nodes] == ["Constant", "Transpose", "Reshape"]
    assert prepared.shapes["padded"] == (1, 3, 5, 5)
    counts, warnings = count_nodes(prepared)
    assert warnings == []
    assert [c.op_type for c in counts] == ["Pad", "Conv"]
    assert counts[1].ops.macs == 2 * 4 * 4 * 12


def test_dequantized_weight_counts_once_as_the_value_the_conv_reads():
    nodes = [
        helper.make_node("DequantizeLinear", ["wq", "scale", "zp"], ["w"]),
        helper.make_node("Conv", ["x", "w"], ["y"]),
    ]
    inits = [init("wq", np.ones((2, 3, 1, 1), np.int8)), init("scale", np.float32(0.1)), init("zp", np.int8(0))]
    prepared = prepare(build(nodes, inits))
    assert [n.op_type for n in prepared.constant_nodes] == ["DequantizeLinear"]
    assert prepared.parameters == {"w": 6}
