"""Quantization kernels against ONNX Runtime and the ONNX reference evaluator: the QDQ ops, the integer ops, and the prepacked int8 fast paths."""

from __future__ import annotations

import numpy as np
import pytest

from jiasu.compress.quantize.diagnostics import int8_products_saturate
from jiasu.kernels.ops import _quant
from jiasu.kernels.ops.q_linear_conv import QLinearConv
from jiasu.runtime.onnx_backend import JiasuBackend

from ._node import check, feeds_of, node_model, run_jiasu, run_onnxruntime, run_reference

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
    """uint8 x int8 with a constant weight runs torch._int_mm on A - 128; the result is exact (the ONNX reference
    evaluator's int64 sums). Not ORT: without VNNI its u8 x s8 GEMM saturates on full-range weights."""
    a = RNG.integers(0, 256, size=(5, 64), dtype=np.uint8)
    b = RNG.integers(-127, 128, size=(64, 12), dtype=np.int8)
    inputs = [("a", a), ("b", b), ("az", np.array(a_zp, np.uint8))]
    check("MatMulInteger", inputs, against="reference", opset=17, constants=["b", "az"], rtol=0, atol=0)


def test_mat_mul_integer_with_7_bit_weights_matches_onnxruntime_exactly():
    """With weights in -64..64 (``reduce_range``) ORT is exact on every x86 CPU, and so equal to us."""
    a = RNG.integers(0, 256, size=(5, 64), dtype=np.uint8)
    b = RNG.integers(-64, 65, size=(64, 12), dtype=np.int8)
    check("MatMulInteger", [("a", a), ("b", b), ("az", np.array(37, np.uint8))], against="onnxruntime", opset=17,
          constants=["b", "az"], rtol=0, atol=0)


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


def _qlinear_conv(per_channel, pads, weight_limit=127):
    inputs, attrs = _qlinear_conv_inputs(per_channel, pads)
    inputs[3] = ("w", np.clip(inputs[3][1], -weight_limit, weight_limit).astype(np.int8))
    model = node_model("QLinearConv", inputs, attrs, opset=17, constants=[n for n, _ in inputs if n != "x"])
    return model, feeds_of(model, inputs)


def _steps(a, b):
    assert a.dtype == b.dtype == np.uint8 and a.shape == b.shape
    return np.abs(a.astype(int) - b.astype(int))


@pytest.mark.parametrize("weight_limit", [127, 64], ids=["8-bit", "7-bit"])
@pytest.mark.parametrize("per_channel", [True, False], ids=["per-channel", "per-tensor"])
@pytest.mark.parametrize("pads", [[1, 1, 1, 1], [0, 1, 1, 0]], ids=["symmetric", "asymmetric"])
def test_qlinear_conv_prepacked_and_exact_paths_match_the_reference(monkeypatch, per_channel, pads, weight_limit):
    """Constant parameters take torch's prepacked int8 conv (symmetric pads) or the exact path (asymmetric),
    and the exact one where full-range weights would saturate this CPU (no VNNI). Either way within one
    quantization step of the reference evaluator (requantization rounding), nearly always exactly."""
    model, feeds = _qlinear_conv(per_channel, pads, weight_limit)
    choices = []
    monkeypatch.setattr(QLinearConv, "_prepack", _recording(QLinearConv._prepack, choices))
    diff = _steps(run_jiasu(model, feeds)[0], run_reference(model, feeds)[0])
    assert diff.max() <= 1 and (diff == 0).mean() >= 0.99
    assert choices == [pads == [1, 1, 1, 1] and (weight_limit <= 64 or not int8_products_saturate())]


@pytest.mark.parametrize("saturates", [False, True], ids=["vnni", "no-vnni"])
@pytest.mark.parametrize("weight_limit", [127, 65, 64], ids=["8-bit", "65", "7-bit"])
def test_prepacked_int8_is_declined_exactly_where_products_would_saturate(monkeypatch, saturates, weight_limit):
    """The rule itself, both CPUs simulated: without VNNI a weight beyond +-64 sends QLinearConv to the exact path."""
    monkeypatch.setattr(_quant, "_products_saturate", lambda: saturates)
    model, _ = _qlinear_conv(True, [1, 1, 1, 1], weight_limit)
    choices = []
    monkeypatch.setattr(QLinearConv, "_prepack", _recording(QLinearConv._prepack, choices))
    JiasuBackend.prepare(model, check=False)
    assert choices == [not saturates or weight_limit <= 64]


def _recording(prepack, into):
    def wrapped(self):
        packed = prepack(self)
        into.append(packed is not None)
        return packed

    return wrapped


@pytest.mark.parametrize("per_channel", [True, False], ids=["per-channel", "per-tensor"])
@pytest.mark.parametrize("pads", [[1, 1, 1, 1], [0, 1, 1, 0]], ids=["symmetric", "asymmetric"])
def test_qlinear_conv_with_7_bit_weights_matches_onnxruntime(per_channel, pads):
    """With weights in -64..64 ORT's int8 conv is exact on every x86 CPU; ours agrees to one step (rounding)."""
    model, feeds = _qlinear_conv(per_channel, pads, weight_limit=64)
    diff = _steps(run_jiasu(model, feeds)[0], run_onnxruntime(model, feeds)[0])
    assert diff.max() <= 1 and (diff == 0).mean() >= 0.99


def test_full_range_weights_saturate_only_where_the_cpu_says_so():
    """The premise of the above, measured: full-range weights and all-255 inputs put ORT off the reference by
    many steps exactly where ``int8_products_saturate`` says this CPU lacks VNNI, and never elsewhere."""
    model, feeds = _qlinear_conv(True, [1, 1, 1, 1])
    feeds = {"x": np.full_like(feeds["x"], 255)}
    off = _steps(run_onnxruntime(model, feeds)[0], run_reference(model, feeds)[0]).max()
    assert (off > 1) == int8_products_saturate()


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
