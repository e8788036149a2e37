"""Post-training static INT8: the QDQ writer, ONNX Runtime running its output, and the int8 lowering on our engine."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import jiasu
from jiasu.compress.quantize import quantize_static
from jiasu.passes.lower_int8 import LowerInt8, lower_int8
from jiasu.errors import JiasuError

from ._models import mlp_model, ort_run, residual_model


def ops(model) -> Counter:
    return Counter(f"{n.domain + '::' if n.domain else ''}{n.op_type}" for n in model.graph)


def last_scale(result) -> float:
    """Scale of the last quantized tensor (the model's output is that tensor, dequantized, then moved)."""
    dq = [n for n in result.model.graph if n.op_type == "DequantizeLinear" and n.inputs[0].producer() is not None]
    return float(dq[-1].inputs[1].const_value.numpy())


# mean |error| / mean |output| allowed: entropy (KL) clips hardest on this random network's Gaussian input
@pytest.mark.parametrize("method,tol", [("minmax", 0.03), ("percentile", 0.03), ("entropy", 0.06), ("mse", 0.03)])
def test_qdq_model_runs_on_onnxruntime_and_stays_close_to_float(method, tol):
    model, x = residual_model()
    result = quantize_static(model, x, method=method, batch_size=8)
    counts = ops(result.model)
    # 3 convs: x, stem relu, conv1 relu, conv2 out, add-relu (the skip shares the stem's Q/DQ) = 5 Q;
    # weights and biases: 6 constant DQ, plus one DQ per activation
    assert counts["QuantizeLinear"] == 5 and counts["DequantizeLinear"] == 11 and counts["Conv"] == 3
    ref = jiasu.Engine(model).run_numpy({"input": x})["output"]
    got = ort_run(result.model, {"input": x})
    # clipping methods trade a few large errors on outliers for finer steps elsewhere: compare on average
    assert np.abs(got - ref).mean() < tol * np.abs(ref).mean()


def test_our_engine_runs_the_qdq_model_like_onnxruntime_before_lowering():
    model, x = residual_model()
    result = quantize_static(model, x, batch_size=8)
    ours = jiasu.Engine(result.model).run_numpy({"input": x})["output"]
    ref = ort_run(result.model, {"input": x})
    step = last_scale(result)
    assert np.mean(np.abs(ours - ref) <= step * 1.0001) >= 0.999


@pytest.mark.parametrize("build", [residual_model, mlp_model], ids=["conv-add-maxpool", "gemm"])
def test_lowered_int8_matches_onnxruntime_within_one_step_on_999_per_mille(build):
    model, x = build()
    result = quantize_static(model, x, batch_size=16)
    lowered = lower_int8(result.model)
    counts = ops(lowered)
    assert "Conv" not in counts and "Gemm" not in counts, counts  # every op ran in int8
    ours = jiasu.Engine(lowered).run_numpy({"input": x})["output"]
    ref = ort_run(result.model, {"input": x})
    step = last_scale(result)
    within = np.abs(ours - ref) <= step * 1.0001
    assert within.mean() >= 0.999, f"{(~within).sum()} of {within.size} elements differ by more than one step"


def test_lowering_rewrites_resnet_patterns_into_int8_kernels():
    model, x = residual_model()
    result = quantize_static(model, x, batch_size=8)
    lowered = lower_int8(result.model)
    # the final MaxPool feeds the float output, so it stays float behind the last DQ
    assert ops(lowered) == Counter({"jiasu::QConv": 3, "jiasu::QAdd": 1, "QuantizeLinear": 1, "DequantizeLinear": 1, "MaxPool": 1})
    p = LowerInt8()
    from jiasu.frontends import copy_model

    p(copy_model(result.model))
    assert dict(p.rewrites) == {"lowered {} Conv to int8": 3, "lowered {} Add to int8": 1}
    choices = [c.choice for c in jiasu.Engine(lowered).choices if c.choice]
    assert choices == ["int8 (torch x86 quantized conv)"] * 3


def test_lowering_leaves_a_float_model_alone():
    model, _ = residual_model()
    p = LowerInt8()
    from jiasu.frontends import copy_model

    copy = copy_model(model)
    assert not p(copy).modified and ops(copy) == ops(model)


def test_excluded_nodes_stay_float():
    model, x = residual_model()
    conv = [n.name for n in model.graph if n.op_type == "Conv"][1]
    result = quantize_static(model, x, exclude=[conv], batch_size=8)
    assert conv not in result.plan.nodes and len(result.plan.nodes) == 3  # 2 convs + add
    with pytest.raises(JiasuError, match=r"^cannot keep nope in float: no such node; node names are shown by `jiasu info MODEL --json`$"):
        quantize_static(model, x, exclude=["nope"])


def test_static_errors():
    model, x = residual_model()
    with pytest.raises(JiasuError, match=r"^unknown calibration method 'kl'; choose one of: minmax, percentile, entropy, mse$"):
        quantize_static(model, x, method="kl")
    with pytest.raises(JiasuError, match=r"^calibration data is empty; give at least one image \(a few hundred is typical\)$"):
        quantize_static(model, x[:0])


def test_resnet18_int8_on_our_engine_matches_onnxruntime_within_one_step():
    """The whole zoo resnet18 (32x32 input, 10 classes): every conv and residual add lowered to int8;
    the last quantized tensor (the last block's conv output, read by the float Add before the global pool:
    the pool is not quantized, so that Add stays float) agrees with ONNX Runtime within one step on >= 99.9%."""
    model = jiasu.load("zoo:resnet18?image_size=32&num_classes=10")
    x = np.random.default_rng(0).normal(size=(4, 3, 32, 32)).astype(np.float32)
    result = quantize_static(model, x, batch_size=4)
    pool = next(n for n in result.model.graph if n.op_type == "GlobalAveragePool")
    add = pool.inputs[0].producer().inputs[0].producer()
    assert add.op_type == "Add"
    dq = add.inputs[0].producer()
    assert dq.op_type == "DequantizeLinear"
    result.model.graph.outputs.append(dq.outputs[0])
    step = float(dq.inputs[1].const_value.numpy())
    lowered = lower_int8(result.model)
    counts = ops(lowered)
    # 7 of the 8 residual adds run in int8; the last one stays float (see above)
    assert "Conv" not in counts and counts["jiasu::QConv"] == 20 and counts["jiasu::QAdd"] == 7 and counts["Add"] == 1, counts
    engine = jiasu.Engine(lowered)
    ours = engine.run_numpy({"input": x})
    # Every residual add ran torch's quantized add (its output is a quantized tensor), not the float fallback
    # that dequantizes, adds and requantizes: that fallback made each add cost as much as a conv.
    add_outputs = []
    engine.trace({"input": x}, lambda i, inputs, outputs: add_outputs.append(outputs[0]) if engine.steps[i].kernel.node.op_type == "QAdd" else None)
    assert len(add_outputs) == 7 and all(t.is_quantized for t in add_outputs)
    import onnx_ir as ir
    import onnxruntime as ort

    sess = ort.InferenceSession(ir.serde.serialize_model(result.model).SerializeToString(), providers=["CPUExecutionProvider"])
    ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"input": x})))
    name = dq.outputs[0].name
    within = np.abs(ours[name] - ref[name]) <= step * 1.0001
    assert within.mean() >= 0.999, f"{(~within).sum()} of {within.size} differ by more than one step"
    logits = ours["output"]
    assert np.linalg.norm(logits - ref["output"]) <= 0.02 * np.linalg.norm(ref["output"])


def _stored_weights(model) -> list[np.ndarray]:
    """The int8 weights of a QDQ model (the DequantizeLinear constants of rank > 1)."""
    return [n.inputs[0].const_value.numpy() for n in model.graph
            if n.op_type == "DequantizeLinear" and n.inputs[0].const_value is not None and n.inputs[0].const_value.numpy().ndim > 1]


@pytest.mark.parametrize("reduce_range", [False, True, None], ids=["8-bit", "7-bit", "auto"])
def test_reduce_range_stores_weights_in_7_bits_and_auto_follows_the_cpu(reduce_range):
    """7-bit weights (-64..64) keep u8 x s8 products exact on x86 without VNNI; None picks them exactly there."""
    from jiasu.compress.quantize.diagnostics import int8_products_saturate

    model, x = residual_model()
    result = quantize_static(model, x, batch_size=8, reduce_range=reduce_range)
    expected = int8_products_saturate() if reduce_range is None else reduce_range
    assert result.reduce_range == expected
    weights = _stored_weights(result.model)
    assert len(weights) == 3 and all(w.dtype == np.int8 for w in weights)
    # every output channel's largest weight takes the top level: 64 in 7 bits, 127 in 8
    assert max(int(np.abs(w).max()) for w in weights) == (64 if expected else 127)
    # and the 7-bit model is still close to float: one level of 64 per channel is coarse but not ruinous
    ref = jiasu.Engine(model).run_numpy({"input": x})["output"]
    got = ort_run(result.model, {"input": x})
    assert np.abs(got - ref).mean() < 0.05 * np.abs(ref).mean()


@pytest.mark.parametrize("saturates", [False, True], ids=["vnni", "no-vnni"])
def test_lowered_gemm_with_full_range_weights_takes_the_exact_path_where_products_saturate(monkeypatch, saturates):
    """jiasu::QGemm prepacks for torch's int8 linear only where that is exact (see ``prepacked_is_exact``)."""
    from jiasu.kernels.ops import _quant

    monkeypatch.setattr(_quant, "_products_saturate", lambda: saturates)
    model, x = mlp_model()
    lowered = lower_int8(quantize_static(model, x, batch_size=16, reduce_range=False).model)
    choices = [c.choice for c in jiasu.Engine(lowered).choices if c.choice]
    if saturates:
        reason = ": weights beyond +-64 would saturate torch's int8 kernels on this CPU (no VNNI); quantize with reduce_range"
        assert choices == ["int8 reference (float64 accumulation)" + reason] * 2
    else:
        assert choices == ["int8 (torch x86 quantized linear)"] * 2
