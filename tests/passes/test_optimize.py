"""The pass registry, ``optimize`` and its reports, and DEFAULT_PASSES on zoo models exported with BatchNorm kept."""

from __future__ import annotations

import functools
import importlib
from collections import Counter

import numpy as np
import pytest
import torch

import jiasu
from jiasu.errors import JiasuError
from jiasu.passes import DEFAULT_PASSES, PASSES, JiasuPass, get_pass, optimize
from jiasu.runtime.reference import relative_l2, run_onnxruntime

from .conftest import Views, copy, op_counts


def test_get_pass_names_the_registered_passes():
    assert get_pass("fold_batchnorm") is PASSES["fold_batchnorm"]
    with pytest.raises(JiasuError) as info:
        get_pass("fold_bn")
    assert str(info.value) == (
        "unknown pass 'fold_bn'; available: eliminate_identity, fold_batchnorm, fold_constants, fuse_conv_activation, "
        "fuse_inverted_residual, fuse_residual_add, lower_int8, pool_phases,\n  simplify_shapes. To add one, see "
        "jiasu/passes/__init__.py."
    )


def test_unknown_pass_fails_before_anything_is_rewritten():
    model = jiasu.load("zoo:smallcnn")
    before = op_counts(model)
    with pytest.raises(JiasuError, match="unknown pass 'nope'"):
        optimize(model, ["fuse_conv_activation", "nope"])
    assert op_counts(model) == before


def test_one_pass_per_file_named_after_it():
    # Every pass runs by default except pool_phases, which pays only on thin layers (optimize measures it).
    assert set(DEFAULT_PASSES) == set(PASSES) - {"pool_phases"}
    for name, cls in PASSES.items():
        module = importlib.import_module(f"jiasu.passes.{name}")
        assert issubclass(cls, JiasuPass) and cls.__module__ == module.__name__ and cls.name == name


# Reduced image sizes, as in tests/runtime/test_zoo_models.py: the same layers at less cost.
ZOO = {
    "smallcnn": {},
    "resnet18": {"image_size": 64},
    "mobilenet_v2": {"image_size": 64},
    "googlenet": {"image_size": 64},
}

# What DEFAULT_PASSES must leave, and why:
# - resnet18: 20 convs; 8 residual Add+Relu fuse into the block's second conv, and the other 9 convs
#   followed by a Relu fuse with it; the 3 downsample 1x1 convs are the Add's other operand (Z) and stay Conv.
# - mobilenet_v2: 52 convs; 35 are followed by ReLU6 (Clip 0..6), 10 of the 17 linear projections feed a
#   residual Add; then each of the 17 blocks (expand, depthwise, project; the first has no expand) becomes
#   one InvertedResidual, 10 of them with the residual. The first and the last conv stay FusedConv.
# - googlenet: all 57 convs are BasicConv2d (conv, BN, ReLU).
# - smallcnn: 3 conv+ReLU and fc1+ReLU; fc2 feeds Softmax.
EXPECTED = {
    "smallcnn": {"FusedConv": 3, "Conv": 0, "InvertedResidual": 0, "FusedGemm": 1, "Gemm": 1, "fused_with_z": 0},
    "resnet18": {"FusedConv": 17, "Conv": 3, "InvertedResidual": 0, "FusedGemm": 0, "Gemm": 1, "fused_with_z": 8},
    "mobilenet_v2": {"FusedConv": 2, "Conv": 0, "InvertedResidual": 17, "FusedGemm": 0, "Gemm": 1, "fused_with_z": 10},
    "googlenet": {"FusedConv": 57, "Conv": 0, "InvertedResidual": 0, "FusedGemm": 0, "Gemm": 1, "fused_with_z": 0},
}
#: where a fused op takes its residual Z
Z_INPUT = {"FusedConv": 3, "InvertedResidual": 7}
BATCHNORMS = {"smallcnn": 0, "resnet18": 20, "mobilenet_v2": 52, "googlenet": 57}


@functools.lru_cache(maxsize=4)
def _kept(name: str):
    return jiasu.load(f"zoo:{name}?keep_batchnorm=1", **ZOO[name])


@pytest.mark.parametrize("name", list(ZOO))
def test_default_passes_on_zoo_models(name):
    model = copy(_kept(name))
    assert op_counts(model)["BatchNormalization"] == BATCHNORMS[name]
    feeds = jiasu.example_feeds(model, batch=2, seed=7)
    before = jiasu.Engine(model).run_numpy(feeds)
    reference = run_onnxruntime(model, feeds)
    model, reports = optimize(model)
    after = jiasu.Engine(model).run_numpy(feeds)
    for out, expected in before.items():
        assert np.abs(expected).max() > 0
        assert relative_l2(after[out], expected) <= 1e-5, f"{name} {out}: {relative_l2(after[out], expected):.2e}"
        assert relative_l2(after[out], reference[out]) <= 1e-5
    counts = op_counts(model)
    assert counts["BatchNormalization"] == counts["Identity"] == 0
    with_z = sum(1 for n in model.graph if n.op_type in Z_INPUT and len(n.inputs) > Z_INPUT[n.op_type] and n.inputs[Z_INPUT[n.op_type]] is not None)
    got = {k: counts[k] for k in ("FusedConv", "Conv", "InvertedResidual", "FusedGemm", "Gemm")} | {"fused_with_z": with_z}
    assert got == EXPECTED[name]
    assert [r.name for r in reports] == DEFAULT_PASSES
    folded = next(r for r in reports if r.name == "fold_batchnorm")
    assert folded.rewrites == ({"folded {} BatchNormalization": BATCHNORMS[name]} if BATCHNORMS[name] else {})
    assert folded.nodes_before - folded.nodes_after == BATCHNORMS[name]
    for r in reports:
        assert r.modified == bool(r.rewrites)
    assert reports[-1].nodes_after == len(model.graph)


def test_report_counts_resnet18():
    model, reports = optimize(copy(_kept("resnet18")))
    assert [r.summary() for r in reports] == [
        "eliminate_identity: 141 -> 69 nodes; removed 72 Identity",
        "lower_int8: 69 -> 69 nodes; no change",
        "fold_constants: 69 -> 69 nodes; no change",
        "simplify_shapes: 69 -> 69 nodes; no change",
        "fold_batchnorm: 69 -> 49 nodes; folded 20 BatchNormalization",
        "fuse_residual_add: 49 -> 33 nodes; fused 8 Conv + Add + Relu",
        "fuse_conv_activation: 33 -> 24 nodes; fused 9 Conv + Relu",
        "fuse_inverted_residual: 24 -> 24 nodes; no change",
        "eliminate_identity: 24 -> 24 nodes; no change",
    ]
    activations = Counter(n.attributes["activation"].value for n in model.graph if n.op_type == "FusedConv")
    assert activations == {"Relu": 17}


def test_pass_order_does_not_hide_residual_fusion():
    """Run the fusions in the opposite order: fused outputs keep their shapes, so the residual Adds still fuse."""
    model = copy(_kept("resnet18"))
    feeds = jiasu.example_feeds(model, batch=1, seed=1)
    before = jiasu.Engine(model).run_numpy(feeds)["output"]
    order = ["fuse_conv_activation", "eliminate_identity", "fold_batchnorm", "fuse_conv_activation", "fuse_residual_add"]
    model, reports = optimize(model, order)
    assert relative_l2(jiasu.Engine(model).run_numpy(feeds)["output"], before) <= 1e-5
    assert reports[0].rewrites == {}, "BN still separates every Conv from its Relu"
    assert reports[3].rewrites == {"fused {} Conv + Relu": 9} and reports[4].rewrites == {"fused {} Conv + Add + Relu": 8}
    assert op_counts(model)["FusedConv"] == 17


SLOW_ZOO = {"alexnet": {"image_size": 64}, "vgg16": {"image_size": 32}, "resnet50": {"image_size": 64},
            "unet": {"image_size": 32}, "yolov3_tiny": {"image_size": 128}, "textcnn": {}, "dqn": {}}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_ZOO))
def test_default_passes_on_the_rest_of_the_zoo(name):
    model = jiasu.load(f"zoo:{name}", keep_batchnorm=True, **SLOW_ZOO[name])
    feeds = jiasu.example_feeds(model, batch=2, seed=3)
    before = jiasu.Engine(model).run_numpy(feeds)
    convs = op_counts(model)["Conv"]
    model, _ = optimize(model)
    after = jiasu.Engine(model).run_numpy(feeds)
    for out, expected in before.items():
        assert relative_l2(after[out], expected) <= 1e-5
    counts = op_counts(model)
    assert counts["BatchNormalization"] == counts["Identity"] == 0
    assert counts["FusedConv"] + counts["Conv"] == convs and counts["FusedConv"] > 0


@functools.lru_cache(maxsize=4)
def _model_for(name: str):
    """A net on which pass ``name`` has work to do."""
    if name in ("eliminate_identity", "fold_constants", "fold_batchnorm"):  # Identity, Constant, Pad arithmetic, BN
        return jiasu.load("zoo:yolov3_tiny?keep_batchnorm=1", image_size=128)
    if name == "fuse_conv_activation":
        return jiasu.load("zoo:yolov3_tiny", image_size=128)  # Conv + LeakyRelu
    if name == "fuse_residual_add":
        return jiasu.load("zoo:resnet18", image_size=32)
    if name == "lower_int8":  # a static INT8 QDQ model of a small conv net
        from jiasu.compress.quantize.static import quantize_static

        model = jiasu.load("zoo:smallcnn?image_size=28&padding=2&num_classes=10")
        calib = np.random.default_rng(0).normal(size=(16, 1, 28, 28)).astype(np.float32)
        return quantize_static(model, calib).model
    if name == "fuse_inverted_residual":  # mobilenet_v2's blocks (the fusions it needs first: PREREQUISITES)
        return jiasu.load("zoo:mobilenet_v2", image_size=32)
    if name == "pool_phases":  # conv1 (7x7) -> relu -> 2x2 max pool
        return jiasu.load("zoo:smallcnn?image_size=28&padding=2&num_classes=10")
    assert name == "simplify_shapes", f"add a model for the new pass {name!r} here"
    return jiasu.frontends.load_module(Views(), torch.randn(1, 3, 8, 8))


#: passes that must run before a pass finds its pattern (the reference is the model before them)
PREREQUISITES = {"fuse_inverted_residual": ["fuse_residual_add", "fuse_conv_activation"]}


@pytest.mark.parametrize("name", sorted(PASSES))
def test_every_pass_keeps_outputs_and_stops_at_a_fixed_point(name):
    """Each registered pass alone (after its PREREQUISITES): outputs within 1e-5 of ONNX Runtime (int8
    lowering: within the rounding of the int8 arithmetic), and a second run changes nothing."""
    model = copy(_model_for(name))
    feeds = jiasu.example_feeds(model, batch=2, seed=5)
    reference = run_onnxruntime(model, feeds)
    model, _ = optimize(model, PREREQUISITES.get(name, []))
    model, (first,) = optimize(model, [name])
    assert first.modified and first.total_rewrites > 0
    after = jiasu.Engine(model).run_numpy(feeds)
    tolerance = 1e-4 if name == "lower_int8" else 1e-5  # measured 1.2e-7 for the int8 lowering
    for out, expected in reference.items():
        assert relative_l2(after[out], expected) <= tolerance
    _, (second,) = optimize(model, [name])
    assert not second.modified and second.rewrites == {}
