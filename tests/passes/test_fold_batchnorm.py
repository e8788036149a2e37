"""fold_batchnorm: Conv/Gemm -> BatchNormalization becomes one Conv/Gemm with rescaled weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import jiasu
from jiasu.runtime.reference import relative_l2, run_onnxruntime

from .conftest import build, op_counts, run_passes

RNG = np.random.default_rng(0)


def _array(*shape, positive=False):
    a = RNG.standard_normal(shape).astype(np.float32)
    return np.abs(a) + 0.5 if positive else a


def _bn_inits(prefix: str, c: int):
    return [
        numpy_helper.from_array(_array(c, positive=True), f"{prefix}_scale"),
        numpy_helper.from_array(_array(c), f"{prefix}_bias"),
        numpy_helper.from_array(_array(c), f"{prefix}_mean"),
        numpy_helper.from_array(_array(c, positive=True), f"{prefix}_var"),
    ]


def _bn(x: str, y: str, prefix: str, **attrs):
    return helper.make_node(
        "BatchNormalization", [x, f"{prefix}_scale", f"{prefix}_bias", f"{prefix}_mean", f"{prefix}_var"], [y], name=prefix, **attrs
    )


def _conv_bn_model(with_bias: bool, epsilon: float = 1e-5):
    inits = [numpy_helper.from_array(_array(6, 3, 3, 3), "w")] + _bn_inits("bn", 6)
    conv_inputs = ["x", "w"]
    if with_bias:
        inits.append(numpy_helper.from_array(_array(6), "b"))
        conv_inputs.append("b")
    nodes = [
        helper.make_node("Conv", conv_inputs, ["c"], name="conv", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        _bn("c", "y", "bn", epsilon=epsilon),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 6, 8, 8])
    return build(nodes, [x], [y], inits)


def _feeds(shape=(2, 3, 8, 8)):
    return {"x": RNG.standard_normal(shape).astype(np.float32)}


@pytest.mark.parametrize("with_bias", [False, True])
def test_conv_bn_folds_into_conv(with_bias):
    model, reports = run_passes(_conv_bn_model(with_bias, epsilon=1e-3), ["fold_batchnorm"], _feeds())
    assert op_counts(model) == {"Conv": 1}
    assert [o.name for o in model.graph.outputs] == ["y"], "the BN's output name (a graph output) survives"
    conv = model.graph[0]
    assert conv.inputs[2] is not None and conv.inputs[2].const_value is not None, "the folded shift becomes the bias"
    assert set(model.graph.initializers) == {conv.inputs[1].name, conv.inputs[2].name}, "stale weights and BN stats are dropped"
    assert reports[0].modified and reports[0].rewrites == {"folded {} BatchNormalization": 1}
    assert reports[0].summary() == "fold_batchnorm: 2 -> 1 nodes; folded 1 BatchNormalization"


@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_bn_folds_into_gemm(trans_b):
    w = _array(5, 4) if trans_b else _array(4, 5)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(_array(5), "c")] + _bn_inits("bn", 5)
    nodes = [
        helper.make_node("Gemm", ["x", "w", "c"], ["g"], name="gemm", transB=trans_b, alpha=0.5, beta=2.0),
        _bn("g", "y", "bn"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])
    model, _ = run_passes(build(nodes, [x], [y], inits), ["fold_batchnorm"], _feeds((3, 4)))
    assert op_counts(model) == {"Gemm": 1}


def test_shared_weight_folds_into_two_separate_copies():
    inits = [numpy_helper.from_array(_array(6, 3, 3, 3), "w")] + _bn_inits("bn1", 6) + _bn_inits("bn2", 6)
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c1"], name="conv1", kernel_shape=[3, 3]),
        helper.make_node("Conv", ["x", "w"], ["c2"], name="conv2", kernel_shape=[3, 3]),
        _bn("c1", "y1", "bn1"),
        _bn("c2", "y2", "bn2"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    ys = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 6, 6, 6]) for n in ("y1", "y2")]
    model, _ = run_passes(build(nodes, [x], ys, inits), ["fold_batchnorm"], _feeds())
    assert op_counts(model) == {"Conv": 2}
    assert "w" not in model.graph.initializers


def test_conv_read_twice_is_not_folded():
    inits = [numpy_helper.from_array(_array(6, 3, 3, 3), "w")] + _bn_inits("bn", 6)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3]), _bn("c", "y", "bn")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    ys = [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 6, 6, 6]) for n in ("y", "c")]  # c is read by BN and the caller
    after, reports = run_passes(build(nodes, [x], ys, inits), ["fold_batchnorm"], _feeds())
    assert op_counts(after) == {"Conv": 1, "BatchNormalization": 1}
    assert not reports[0].modified and reports[0].summary() == "fold_batchnorm: 2 -> 2 nodes; no change"


def test_bn_with_fed_statistics_is_not_folded():
    inits = [numpy_helper.from_array(_array(6, 3, 3, 3), "w")] + _bn_inits("bn", 6)[:3]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3]), _bn("c", "y", "bn")]
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8]),
        helper.make_tensor_value_info("bn_var", TensorProto.FLOAT, [6]),
    ]
    model = build(nodes, inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 6, 6, 6])], inits)
    feeds = {**_feeds(), "bn_var": _array(6, positive=True)}
    after, _ = run_passes(model, ["fold_batchnorm"], feeds)
    assert op_counts(after)["BatchNormalization"] == 1


class _ConvBnRelu(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn = torch.nn.BatchNorm2d(8)
        with torch.no_grad():  # non-trivial running statistics, as after training
            self.bn.running_mean.uniform_(-1, 1)
            self.bn.running_var.uniform_(0.5, 2)
            self.bn.weight.uniform_(0.5, 1.5)
            self.bn.bias.uniform_(-0.5, 0.5)

    def forward(self, x):
        return torch.relu(self.bn(self.conv(x)))


def test_keep_batchnorm_export_folds_back_to_the_torch_result():
    torch.manual_seed(0)
    module = _ConvBnRelu()
    x = torch.randn(2, 3, 10, 10)
    model = jiasu.frontends.load_module(module, x[:1], keep_batchnorm=True)
    assert op_counts(model)["BatchNormalization"] == 1
    assert not module.training, "the export leaves the module in eval mode"
    feeds = {"input": x.numpy()}
    after, _ = run_passes(model, ["eliminate_identity", "fold_batchnorm"], feeds)
    assert op_counts(after) == {"Conv": 1, "Relu": 1}
    with torch.no_grad():
        expected = module(x).numpy()
    assert relative_l2(jiasu.Engine(after).run_numpy(feeds)["output"], expected) <= 1e-6


def test_keep_batchnorm_zoo_export_matches_the_folded_export():
    kept = jiasu.load("zoo:resnet18?keep_batchnorm=1", image_size=32)
    same = jiasu.load("zoo:resnet18", image_size=32, keep_batchnorm=True)
    folded = jiasu.load("zoo:resnet18", image_size=32)
    assert op_counts(kept)["BatchNormalization"] == op_counts(same)["BatchNormalization"] == 20
    assert op_counts(folded)["BatchNormalization"] == 0
    assert all(n.attributes["training_mode"].value == 0 for n in kept.graph if n.op_type == "BatchNormalization")
    feeds = jiasu.example_feeds(folded, batch=2)
    expected = run_onnxruntime(folded, feeds)["output"]
    assert relative_l2(run_onnxruntime(kept, feeds)["output"], expected) <= 1e-5
    assert relative_l2(jiasu.Engine(kept).run_numpy(feeds)["output"], expected) <= 1e-5
