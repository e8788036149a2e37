"""Observers and quantization parameters: numerical checks against numpy and ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from jiasu.compress.quantize import OBSERVERS, make_observer, qparams_from_range
from jiasu.compress.quantize.observers import kl_threshold
from jiasu.errors import JiasuError

RNG = np.random.default_rng(0)


def test_registry_lists_the_four_methods():
    assert sorted(OBSERVERS) == ["entropy", "minmax", "mse", "percentile"]


@pytest.mark.parametrize("qt,symmetric", [("uint8", False), ("int8", False), ("int8", True), ("uint8", True)])
def test_round_trip_error_is_at_most_half_a_step_inside_the_range(qt, symmetric):
    x = RNG.uniform(-3.0, 5.0, size=10_000).astype(np.float32)
    qp = qparams_from_range(x.min(), x.max(), qt, symmetric=symmetric)
    err = np.abs(qp.dequantize(qp.quantize(x)) - x)
    assert err.max() <= qp.scale / 2 * (1 + 1e-5)
    assert qp.dequantize(qp.quantize(np.zeros(1, np.float32)))[0] == 0.0  # zero is exact (padding, ReLU)


def test_asymmetric_uint8_maps_the_range_onto_0_255():
    qp = qparams_from_range(-1.0, 3.0, "uint8")
    assert qp.scale == pytest.approx(4.0 / 255)
    assert int(qp.zero_point) == 64  # round(0 - (-1) / (4/255)) = round(63.75)
    np.testing.assert_array_equal(qp.quantize(np.array([-1.0, 0.0, 3.0], np.float32)), [0, 64, 255])


def test_symmetric_int8_has_zero_point_0_and_range_127():
    qp = qparams_from_range(-0.5, 2.54, "int8", symmetric=True)
    assert int(qp.zero_point) == 0 and qp.scale == pytest.approx(2.54 / 127)
    np.testing.assert_array_equal(qp.quantize(np.array([2.54, -2.54, 9.0], np.float32)), [127, -127, 127])


def test_range_is_widened_to_contain_zero_and_a_constant_tensor_gets_scale_1():
    qp = qparams_from_range(2.0, 3.0, "uint8")
    assert int(qp.zero_point) == 0 and qp.scale == pytest.approx(3.0 / 255)
    qp = qparams_from_range(0.0, 0.0, "uint8")
    assert qp.scale == 1.0


def test_quantize_matches_onnxruntime_quantize_linear_with_ties_to_even():
    import onnxruntime as ort
    from onnx import TensorProto, helper

    qp = qparams_from_range(-2.0, 6.0, "uint8")
    # exact ties (k + 0.5 steps) must round to even, as ONNX specifies
    x = ((np.arange(-60, 200) + 0.5) * qp.scale).astype(np.float32)
    x = np.concatenate([x, RNG.uniform(-3, 7, 1000).astype(np.float32)])
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])
    graph = helper.make_graph(
        [node], "q", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [len(x)])], [helper.make_tensor_value_info("y", TensorProto.UINT8, [len(x)])],
        initializer=[helper.make_tensor("s", TensorProto.FLOAT, [], [float(qp.scale)]), helper.make_tensor("z", TensorProto.UINT8, [], [int(qp.zero_point)])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    (ref,) = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": x})
    np.testing.assert_array_equal(qp.quantize(x), ref)


def test_minmax_over_batches_equals_the_global_range_per_tensor_and_per_channel():
    batches = [RNG.normal(size=(4, 3, 5, 5)).astype(np.float32) * (i + 1) for i in range(3)]
    whole = np.concatenate(batches)
    obs = make_observer("minmax")
    for b in batches:
        obs.observe(b)
    qp = obs.compute()
    ref = qparams_from_range(whole.min(), whole.max(), "uint8")
    assert qp.scale == ref.scale and qp.zero_point == ref.zero_point and qp.axis is None
    obs = make_observer("minmax", axis=1, symmetric=True, qtype="int8")
    for b in batches:
        obs.observe(b)
    qp = obs.compute()
    amax = np.abs(whole).max(axis=(0, 2, 3))
    np.testing.assert_allclose(qp.scale, amax / 127, rtol=1e-6)
    assert qp.scale.shape == (3,) and not qp.zero_point.any() and qp.axis == 1


def test_percentile_clips_the_tails_at_the_requested_percentile():
    x = RNG.uniform(0.0, 1.0, size=200_000).astype(np.float32)
    obs = make_observer("percentile", percentile=99.0, samples_per_batch=1 << 20)
    obs.observe(x)
    lo, hi = obs.range()
    assert hi[0] == pytest.approx(np.percentile(x, 99.0), abs=1e-6)
    assert lo[0] == pytest.approx(np.percentile(x, 1.0), abs=1e-6)


def test_entropy_keeps_a_uniform_range_and_clips_a_long_tail():
    uniform = RNG.uniform(0.0, 1.0, size=100_000).astype(np.float32)
    assert kl_threshold(uniform, 1.0, 2048, 256) == pytest.approx(1.0, rel=0.05)
    # ReLU-like activations: mostly small values, a few huge outliers
    x = np.abs(RNG.normal(size=100_000)).astype(np.float32)
    x[:10] = 50.0
    obs = make_observer("entropy")
    obs.observe(x)
    lo, hi = obs.range()
    assert 2.0 < hi[0] < 10.0  # far below the outliers at 50, above the bulk of |N(0,1)|
    bulk = x[10:]
    qp_e, qp_m = obs.compute(), qparams_from_range(0.0, 50.0, "uint8")
    err = lambda qp: np.mean((qp.dequantize(qp.quantize(bulk)) - bulk) ** 2)  # noqa: E731
    assert err(qp_e) < err(qp_m) / 10


def test_mse_never_does_worse_than_minmax_on_the_sample_and_clips_outliers():
    x = RNG.normal(size=50_000).astype(np.float32)
    x[0] = 60.0
    obs = make_observer("mse", samples_per_batch=1 << 20)
    obs.observe(x)
    qp = obs.compute()
    mm = qparams_from_range(x.min(), x.max(), "uint8")
    mse = lambda q: np.mean((q.dequantize(q.quantize(x)) - x) ** 2)  # noqa: E731
    assert mse(qp) <= mse(mm)
    assert obs.range()[1][0] < 60.0


def test_per_channel_histogram_methods_give_one_range_per_channel():
    x = RNG.normal(size=(16, 4, 8, 8)).astype(np.float32) * np.array([1, 2, 4, 8], np.float32).reshape(1, 4, 1, 1)
    for method in ("percentile", "entropy", "mse"):
        obs = make_observer(method, axis=1, symmetric=True, qtype="int8")
        obs.observe(x)
        scale = obs.compute().scale
        assert scale.shape == (4,)
        assert np.all(np.diff(scale) > 0), f"{method}: wider channels must get larger scales, got {scale}"


def test_errors_name_the_problem_and_the_fix():
    with pytest.raises(JiasuError, match=r"^unknown calibration method 'kl'; choose one of: minmax, percentile, entropy, mse$"):
        make_observer("kl")
    with pytest.raises(JiasuError, match=r"^minmax observer has seen no data; call observe\(\) with at least one non-empty batch before compute\(\)$"):
        make_observer("minmax").compute()
    with pytest.raises(JiasuError, match=r"^percentile must be in \(50, 100\], got 40$"):
        make_observer("percentile", percentile=40)
    with pytest.raises(JiasuError, match=r"^unknown quantized type 'int4'; choose one of: uint8, int8$"):
        qparams_from_range(0, 1, "int4")
