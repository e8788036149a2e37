"""Resize against the ONNX reference beyond the node tests: every mode x coordinate mode, axes, integer and
half inputs, antialias when upsampling, keep_aspect_ratio_policy with axes, and the per-shape plan cache."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ._node import check, node_model, run_jiasu, run_reference

CTMS = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric", "tf_crop_and_resize"]
EMPTY = np.zeros((0,), dtype=np.float32)


def _x(shape, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(0, 255, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize(
    "mode,ctm,scales",
    [
        (mode, ctm, scales)
        for mode, ctm in itertools.product(["nearest", "linear", "cubic"], CTMS)
        for scales in ([1, 1, 0.6, 1.7], [1, 1, 2.0, 0.5])
    ],
)
def test_modes_and_coordinate_transforms(mode, ctm, scales):
    x = _x((2, 3, 5, 6))
    roi = np.array([0, 0, 0.1, 0.2, 1, 1, 0.9, 0.7], dtype=np.float32) if ctm == "tf_crop_and_resize" else EMPTY
    attrs = {"mode": mode, "coordinate_transformation_mode": ctm, "extrapolation_value": -3.0}
    check("Resize", [("x", x), ("roi", roi), ("scales", np.array(scales, np.float32))], attrs, rtol=1e-4, atol=1e-5, constants=["roi", "scales"])


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("sizes", [[3, 9], [10, 2], [1, 1]])
def test_antialias_and_exclude_outside_with_sizes(mode, sizes):
    x = _x((1, 2, 6, 5), seed=1)
    attrs = {"mode": mode, "antialias": 1, "exclude_outside": 1, "cubic_coeff_a": -0.5, "axes": [2, 3]}
    check("Resize", [("x", x), ("", None), ("", None), ("sizes", np.array(sizes, np.int64))], attrs, rtol=1e-4, atol=1e-5, constants=["sizes"])


@pytest.mark.parametrize("policy", ["not_larger", "not_smaller"])
def test_keep_aspect_ratio_with_axes(policy):
    x = _x((1, 5, 7, 2), seed=2)
    attrs = {"mode": "linear", "keep_aspect_ratio_policy": policy, "axes": [1, 2]}
    check("Resize", [("x", x), ("", None), ("", None), ("sizes", np.array([9, 9], np.int64))], attrs, rtol=1e-5, constants=["sizes"])


@pytest.mark.parametrize("nearest_mode", ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"])
def test_nearest_modes_on_uint8(nearest_mode):
    x = _x((1, 1, 4, 7), dtype=np.uint8)
    attrs = {"mode": "nearest", "nearest_mode": nearest_mode}
    check("Resize", [("x", x), ("", None), ("scales", np.array([1, 1, 1.5, 0.5], np.float32))], attrs, constants=["scales"])


def test_linear_on_uint8_rounds_and_saturates():
    x = _x((1, 1, 4, 4), dtype=np.uint8, seed=3)
    check("Resize", [("x", x), ("", None), ("scales", np.array([1, 1, 1.75, 2.5], np.float32))], {"mode": "cubic"}, atol=1)


def test_float16_input():
    x = _x((1, 2, 3, 4), dtype=np.float16)
    check("Resize", [("x", x), ("", None), ("scales", np.array([1, 1, 2, 2], np.float32))], {"mode": "linear"}, rtol=2e-3, atol=2e-3)


def test_runtime_scales_and_changing_input_shapes_use_fresh_plans():
    """Scales as a graph input, and several input shapes through one engine: the plan cache is keyed correctly."""
    from jiasu.runtime.onnx_backend import JiasuBackend

    model = node_model("Resize", [("x", _x((1, 1, 3, 3))), ("", None), ("scales", np.ones(4, np.float32))], {"mode": "cubic"}, dynamic=True)
    rep = JiasuBackend.prepare(model, check=False)
    for shape, scales in [((1, 1, 3, 3), [1, 1, 2, 2]), ((1, 1, 5, 2), [1, 1, 2, 2]), ((1, 1, 5, 2), [1, 1, 0.5, 3])]:
        feeds = {"x": _x(shape, seed=sum(shape)), "scales": np.array(scales, np.float32)}
        np.testing.assert_allclose(rep.run(feeds)[0], run_reference(model, feeds)[0], rtol=1e-5, atol=1e-6)


def test_upsample_opset9_linear_and_nearest_fractional():
    """Upsample (opset 9): asymmetric coordinates, nearest = floor; compared with onnxruntime (the reference only does integer nearest)."""
    x = _x((1, 2, 3, 4), seed=4)
    for mode in ("nearest", "linear"):
        check("Upsample", [("x", x), ("scales", np.array([1, 1, 2.5, 1.5], np.float32))], {"mode": mode}, opset=9, against="onnxruntime",
              constants=["scales"])


def test_resize_does_not_modify_input():
    x = _x((1, 1, 4, 4))
    model = node_model("Resize", [("x", x), ("", None), ("scales", np.array([1, 1, 1, 1], np.float32))], {}, constants=["scales"])
    out = run_jiasu(model, {"x": x})[0]  # identity scales: output may alias the input, input must be intact
    np.testing.assert_array_equal(out, x)
