"""fuse_inverted_residual: 1x1 expand -> 3x3 depthwise -> 1x1 project becomes one jiasu::InvertedResidual."""

from __future__ import annotations

import math

import numpy as np
import pytest
import onnx_ir as ir
from onnx import TensorProto, helper, numpy_helper

from .conftest import build, op_counts, run_passes

RNG = np.random.default_rng(4)
FUSIONS = ["fuse_residual_add", "fuse_conv_activation", "fuse_inverted_residual"]


def _block(cin=8, hid=32, cout=8, stride=1, expand=True, residual=True, act="Clip", dw_kernel=3, readers=1):
    """x -> [expand 1x1 + act] -> depthwise + act -> project 1x1 [+ x]: a mobilenet_v2 block as the exporter writes it."""
    size = 10
    ho = (size - 1) // stride + 1
    inits = [numpy_helper.from_array(np.array(0.0, np.float32), "lo"), numpy_helper.from_array(np.array(6.0, np.float32), "hi")]
    nodes, source = [], "x"

    def conv(name, x, w_shape, **attrs):
        inits.append(numpy_helper.from_array((RNG.standard_normal(w_shape) / math.sqrt(np.prod(w_shape[1:]))).astype(np.float32), f"{name}_w"))
        inits.append(numpy_helper.from_array((RNG.standard_normal(w_shape[0]) * 0.1).astype(np.float32), f"{name}_b"))
        nodes.append(helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [f"{name}_y"], name=name, **attrs))
        return f"{name}_y"

    def activation(name, x):
        if act == "Clip":
            nodes.append(helper.make_node("Clip", [x, "lo", "hi"], [f"{name}_a"], name=f"{name}_clip"))
        else:
            nodes.append(helper.make_node(act, [x], [f"{name}_a"], name=f"{name}_act"))
        return f"{name}_a"

    if expand:
        source = activation("expand", conv("expand", source, (hid, cin, 1, 1)))
    else:
        hid = cin
    pad = dw_kernel // 2
    d = activation("dw", conv("dw", source, (hid, 1, dw_kernel, dw_kernel), group=hid, strides=[stride] * 2, pads=[pad] * 4))
    outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", cout, ho, ho])]
    if readers == 2:
        outputs.append(helper.make_tensor_value_info(d, TensorProto.FLOAT, ["N", hid, ho, ho]))
    p = conv("project", d, (cout, hid, 1, 1))
    if residual:
        nodes.append(helper.make_node("Add", [p, "x"], ["y"], name="add"))
    else:
        nodes.append(helper.make_node("Identity", [p], ["y"], name="out"))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", cin, size, size])
    return build(nodes, [x], outputs, inits)


def _feeds(cin=8):
    return {"x": (RNG.standard_normal((2, cin, 10, 10)) * 2).astype(np.float32)}


def _fused(model):
    return next(n for n in model.graph if n.op_type == "InvertedResidual")


def test_a_block_with_its_residual_becomes_one_node():
    model, reports = run_passes(_block(), FUSIONS, _feeds())
    assert op_counts(model) == {"InvertedResidual": 1}
    node = _fused(model)
    assert [v.name if v is not None else None for v in node.inputs] == [
        "x", "expand_w", "expand_b", "dw_w", "dw_b", "project_w", "project_b", "x",
    ]
    assert node.attributes["stride"].value == 1
    assert list(node.attributes["clamps"].value) == [0, 6, 0, 6, -math.inf, math.inf]
    assert reports[-1].rewrites == {"fused {} inverted residual blocks": 1}


def test_stride_2_without_a_residual():
    model, _ = run_passes(_block(cout=16, stride=2, residual=False), FUSIONS, _feeds())
    node = _fused(model)
    assert node.attributes["stride"].value == 2 and node.inputs[7] is None
    assert op_counts(model) == {"InvertedResidual": 1, "Identity": 1}  # the model's own output Identity


def test_a_block_without_an_expand_keeps_empty_expand_inputs():
    model, reports = run_passes(_block(cin=16, cout=8, expand=False, residual=False, act="Relu"), FUSIONS, _feeds(16))
    node = _fused(model)
    assert node.inputs[0].name == "x" and node.inputs[1] is None and node.inputs[2] is None
    assert list(node.attributes["clamps"].value) == [-math.inf, math.inf, 0, math.inf, -math.inf, math.inf]
    assert reports[-1].rewrites == {"fused {} inverted residual blocks without an expand": 1}


@pytest.mark.parametrize(
    "why, kwargs",
    [
        ("channels no multiple of 16", {"hid": 24}),
        ("HardSwish is no clamp", {"act": "HardSwish"}),
        ("5x5 depthwise", {"dw_kernel": 5}),
        ("the depthwise output is also a graph output", {"readers": 2}),
    ],
)
def test_what_is_left_alone(why, kwargs):
    model, reports = run_passes(_block(**kwargs), FUSIONS, _feeds())
    assert "InvertedResidual" not in op_counts(model), why
    assert reports[-1].rewrites == {}


def test_an_expand_read_twice_stays_out_of_the_block():
    """The expand's output read by another node too: the block fuses from the depthwise on, the expand stays a FusedConv."""
    model = _block()
    expand_out = next(n for n in model.graph if n.name == "expand_clip").outputs[0]
    extra = ir.Value(name="twice", shape=expand_out.shape, type=expand_out.type)
    twice = ir.Node("", "Neg", [expand_out], outputs=[extra], name="twice")
    model.graph.append(twice)
    model.graph.outputs.append(extra)
    model, _ = run_passes(model, FUSIONS, _feeds())
    assert op_counts(model) == {"FusedConv": 1, "InvertedResidual": 1, "Neg": 1}
    node = _fused(model)
    assert node.inputs[1] is None and node.inputs[0].producer().op_type == "FusedConv"


def test_the_analysis_counts_a_fused_mobilenet_as_the_layers_it_replaced():
    """MACs and other ops of mobilenet_v2 are the same before and after the fusions (the rule for
    InvertedResidual counts its three convs, biases, clamps and residual as their own nodes did)."""
    from jiasu.analysis.counts import count_nodes
    from jiasu.analysis.graph import prepare
    from jiasu.frontends import load
    from jiasu.passes import optimize

    def total(model):
        prepared = prepare(model, 2)
        counts, warnings = count_nodes(prepared)
        assert prepared.warnings + warnings == []
        return sum((c.ops for c in counts), type(counts[0].ops)())

    plain, _ = optimize(load("zoo:mobilenet_v2", image_size=64), ["fuse_residual_add", "fuse_conv_activation"])
    before = total(plain)
    fused, _ = optimize(plain, ["fuse_inverted_residual"])
    assert op_counts(fused)["InvertedResidual"] == 17
    assert total(fused) == before and before.macs > 0
