"""pool_phases: Conv (stride 1) -> [Relu] -> MaxPool (kernel == stride) becomes one strided conv over the pool's phases and a Max tree."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from jiasu.passes import optimize
from jiasu.passes.pool_phases import PoolPhases

from .conftest import build, op_counts, run_passes

RNG = np.random.default_rng(7)


def _model(size=28, k=7, pads=(2, 2, 2, 2), pool=(2, 2), relu=True, conv_attrs=None, pool_attrs=None, c_in=1, c_out=4, extra_reader=False):
    conv_attrs = dict(dict(kernel_shape=[k, k], pads=list(pads), strides=[1, 1]), **(conv_attrs or {}))
    pool_attrs = dict(dict(kernel_shape=list(pool), strides=list(pool)), **(pool_attrs or {}))
    groups = conv_attrs.get("group", 1)
    w = numpy_helper.from_array(RNG.standard_normal((c_out, c_in // groups, k, k)).astype(np.float32), "w")
    b = numpy_helper.from_array(RNG.standard_normal(c_out).astype(np.float32), "b")
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", **conv_attrs)]
    nodes += [helper.make_node("Relu", ["c"], ["r"], name="relu")] if relu else []
    nodes += [helper.make_node("MaxPool", ["r" if relu else "c"], ["y"], name="pool", **pool_attrs)]
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", c_out, None, None])]
    if extra_reader:
        nodes.append(helper.make_node("Neg", ["c"], ["z"], name="other"))
        outputs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", c_out, None, None]))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c_in, size, size])
    return build(nodes, [x], outputs, [w, b])


def _feeds(size=28, c_in=1):
    return {"x": RNG.standard_normal((2, c_in, size, size)).astype(np.float32)}


@pytest.mark.parametrize(
    "kwargs, phases",
    [
        (dict(), 4),  # smallcnn's conv1 -> relu1 -> pool1 at 28x28
        (dict(size=27), 4),  # an odd conv output (25): the pool drops the last row and column, and so does the strided conv
        (dict(relu=False), 4),
        (dict(pool=(2, 3), pads=(1, 0, 2, 1), c_in=3, c_out=5), 6),  # a non-square pool, asymmetric padding, 3 input channels
    ],
    ids=["smallcnn_conv1", "odd_size", "no_relu", "rect_pool_asymmetric_pads"],
)
def test_pool_folds_into_the_conv(kwargs, phases):
    c_in = kwargs.get("c_in", 1)
    model = _model(**kwargs)
    assert PoolPhases.foldable(model) == 1 and op_counts(model)["MaxPool"] == 1, "counting rewrites nothing"
    model, (report,) = run_passes(model, ["pool_phases"], _feeds(kwargs.get("size", 28), c_in))
    assert report.rewrites == {"folded {} MaxPool into the conv before it (pool phases)": 1}
    counts = op_counts(model)
    assert "MaxPool" not in counts
    assert counts == {"Conv": 1, "Slice": phases, "Max": phases - 1, **({"Relu": 1} if kwargs.get("relu", True) else {})}
    conv = next(n for n in model.graph if n.op_type == "Conv")
    pool = kwargs.get("pool", (2, 2))
    assert list(conv.attributes["strides"].value) == list(pool)
    assert list(conv.attributes["kernel_shape"].value) == [7 + pool[0] - 1, 7 + pool[1] - 1]
    assert conv.inputs[1].const_value.shape[0] == phases * kwargs.get("c_out", 4)
    assert set(model.graph.initializers) >= {conv.inputs[1].name} and "w" not in model.graph.initializers, "the old weight is dropped"


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(pool_attrs=dict(pads=[0, 0, 1, 1])),  # padded pool: -inf borders are not a conv phase
        dict(pool_attrs=dict(strides=[1, 1])),  # overlapping windows
        dict(pool_attrs=dict(ceil_mode=1)),
        dict(conv_attrs=dict(strides=[2, 2])),
        dict(conv_attrs=dict(dilations=[2, 2])),
        dict(conv_attrs=dict(group=2), c_in=2, c_out=4),
        dict(extra_reader=True),  # the full-resolution conv output is read elsewhere
        dict(k=3, pads=(1, 1, 1, 1)),  # 4x4 phases of a 3x3 kernel: 16/9 of its MACs, more than MAX_MAC_RATIO
    ],
    ids=["padded_pool", "overlapping_pool", "ceil_mode", "strided_conv", "dilated_conv", "grouped_conv", "shared_output", "too_many_macs"],
)
def test_left_alone(kwargs):
    model = _model(**kwargs)
    before = op_counts(model)
    assert PoolPhases.foldable(model) == 0
    model, (report,) = optimize(model, ["pool_phases"])
    assert not report.modified and op_counts(model) == before
