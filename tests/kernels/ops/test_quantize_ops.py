"""Quantization kernels against ONNX Runtime: the QDQ ops, the integer ops, and the prepacked int8 fast paths."""

from __future__ import annotations

import numpy as np
import pytest

from ._node import check, feeds_of, node_model, run_jiasu, run_onnxruntime

RNG = np.random.default_rng(0)


def test_quantize_linear_per_axis_int8_matches_onnxruntime():
    x = RNG.normal(size=(2, 4, 3, 3)).astype(np.float32)
    s = np.array([0.01, 0.02, 0.05, 0.1], np.float32)
    z = np.array([0, 1, -3, 5], np.int8)
    check("QuantizeLinear", [("x", x), ("s", s), ("z", z)], {"axis": 1}, against="onnxruntime", opset=17, constants=["s", "z"])


def test_dequantize_linear_per_axis_uint8_matches_onnxruntime():
    x = RNG.integers(0, 256, size=(3, 5), dtype=np.uint8)
    s = RNG.uniform(0.01, 0.1, size=5).astype(np.float32)
    z = RNG.integers(0, 256, size=5, dtype=np.uint8)
    check("DequantizeLinear", [("x", x), ("s", s), ("z", z)], {"axis": 1}, against="onnxruntime", opset=17, constants=["s", "z"])


def test_dynamic_quantize_linear_matches_onnxruntime():
    x = (RNG.normal(size=(7, 9)) * 3 + 1).astype(np.float32)
    check("DynamicQuantizeLinear", [("x", x)], n_outputs=3, against="onnxruntime", opset=17)


@pytest.mark.parametrize("a_zp", [0, 128, 37])
def test_mat_mul_integer_int8_fast_path_is_exact(a_zp):
    """uint8 x int8 with a constant weight runs torch._int_mm on A - 128; the result is exactly ORT's."""
    a = RNG.integers(0, 256, size=(5, 64), dtype=np.uint8)
    b = RNG.integers(-127, 128, size=(64, 12), dtype=np.int8)
    inputs = [("a", a), ("b", b), ("az", np.array(a_zp, np.uint8))]
    check("MatMulInteger", inputs, against="onnxruntime", opset=17, constants=["b", "az"], rtol=0, atol=0)


def test_conv_integer_matches_onnxruntime():
    x = RNG.integers(0, 256, size=(1, 3, 7, 7), dtype=np.uint8)
    w = RNG.integers(0, 256, size=(4, 3, 3, 3), dtype=np.uint8)
    check("ConvInteger", [("x", x), ("w", w), ("xz", np.array(12, np.uint8)), ("wz", np.array(130, np.uint8))], {"pads": [1, 1, 1, 1]},
          against="onnxruntime", opset=17, rtol=0, atol=0)


def _qlinear_conv_inputs(per_channel: bool, pads):
    x = RNG.integers(0, 256, size=(2, 8, 9, 9), dtype=np.uint8)
    w = RNG.integers(-127, 128, size=(6, 8, 3, 3), dtype=np.int8)
    ws = RNG.uniform(0.002, 0.01, size=6 if per_channel else ()).astype(np.float32)
    b = RNG.integers(-5000, 5000, size=6, dtype=np.int32)
    return [
        ("x", x), ("xs", np.array(0.02, np.float32)), ("xz", np.array(3, np.uint8)),
        ("w", w), ("ws", ws), ("wz", np.zeros(ws.shape, np.int8)),
        ("ys", np.array(0.3, np.float32)), ("yz", np.array(100, np.uint8)), ("b", b),
    ], {"pads": pads, "strides": [2, 2] if pads == [1, 1, 1, 1] else [1, 1]}


@pytest.mark.parametrize("per_channel", [True, False], ids=["per-channel", "per-tensor"])
@pytest.mark.parametrize("pads", [[1, 1, 1, 1], [0, 1, 1, 0]], ids=["symmetric", "asymmetric"])
def test_qlinear_conv_prepacked_and_reference_paths_match_onnxruntime(per_channel, pads):
    """Constant parameters take torch's prepacked int8 conv (symmetric pads) or the exact path (asymmetric);
    both agree with ORT to one quantization step (requantization rounding), nearly always exactly."""
    inputs, attrs = _qlinear_conv_inputs(per_channel, pads)
    model = node_model("QLinearConv", inputs, attrs, opset=17, constants=[n for n, _ in inputs if n != "x"])
    feeds = feeds_of(model, inputs)
    (ours,), (ref,) = run_jiasu(model, feeds), run_onnxruntime(model, feeds)
    assert ours.dtype == np.uint8 and ours.shape == ref.shape
    diff = np.abs(ours.astype(int) - ref.astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() >= 0.99


def test_qlinear_mat_mul_matches_onnxruntime():
    inputs = [
        ("a", RNG.integers(0, 256, size=(4, 16), dtype=np.uint8)), ("as", np.array(0.05, np.float32)), ("az", np.array(7, np.uint8)),
        ("b", RNG.integers(0, 256, size=(16, 5), dtype=np.uint8)), ("bs", np.array(0.01, np.float32)), ("bz", np.array(130, np.uint8)),
        ("ys", np.array(0.2, np.float32)), ("yz", np.array(120, np.uint8)),
    ]
    model = node_model("QLinearMatMul", inputs, opset=17)
    feeds = feeds_of(model, inputs)
    (ours,), (ref,) = run_jiasu(model, feeds), run_onnxruntime(model, feeds)
    assert np.abs(ours.astype(int) - ref.astype(int)).max() <= 1
