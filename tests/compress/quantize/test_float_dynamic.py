"""FP16/BF16 conversion and dynamic INT8, on our engine and ONNX Runtime."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import jiasu
from jiasu.compress.quantize.dynamic import quantize_dynamic
from jiasu.compress.quantize.float16 import convert_float
from jiasu.errors import JiasuError

from ._models import mlp_model, ort_run, residual_model


@pytest.mark.parametrize("dtype,tol", [("fp16", 2e-3), ("bf16", 2e-2)])
def test_compute_conversion_runs_in_16_bits_and_keeps_float32_io(dtype, tol):
    model, x = residual_model()
    half, rep = convert_float(model, dtype, compute=True)
    assert rep.converted == 6 and rep.clipped == 0  # 3 weights + 3 biases
    assert half.graph.inputs[0].dtype.name == "FLOAT" and half.graph.outputs[0].dtype.name == "FLOAT"
    inner = {v.dtype.name for n in half.graph for v in n.outputs if n.op_type != "Cast" and v.dtype is not None}
    assert inner == {"FLOAT16" if dtype == "fp16" else "BFLOAT16"}
    ref = jiasu.Engine(model).run_numpy({"input": x})["output"]
    got = jiasu.Engine(half).run_numpy({"input": x})["output"]
    assert got.dtype == np.float32
    assert np.abs(got - ref).max() <= tol * np.abs(ref).max()


@pytest.mark.parametrize("dtype", ["fp16", "bf16"])
def test_weight_only_storage_halves_the_weights_and_runs_on_onnxruntime(dtype):
    model, x = residual_model()
    half, rep = convert_float(model, dtype, compute=False)
    assert Counter(n.op_type for n in half.graph)["Cast"] == 6
    sizes = {v.dtype.name for v in half.graph.initializers.values()}
    assert sizes == {"FLOAT16" if dtype == "fp16" else "BFLOAT16"}
    ref = jiasu.Engine(model).run_numpy({"input": x})["output"]
    ours = jiasu.Engine(half).run_numpy({"input": x})["output"]
    np.testing.assert_allclose(ours, ort_run(half, {"input": x}), rtol=1e-5, atol=1e-5)
    assert np.abs(ours - ref).max() <= (1e-3 if dtype == "fp16" else 1e-2) * np.abs(ref).max()


def test_fp16_clips_out_of_range_weights_and_says_how_many():
    model, x = mlp_model()
    init = next(v for v in model.graph.initializers.values() if v.const_value.numpy().ndim == 2)
    w = init.const_value.numpy().copy()
    w[0, :3] = 1e6
    import onnx_ir as ir

    init.const_value = ir.tensor(w, name=init.name)
    _, rep = convert_float(model, "fp16")
    assert rep.clipped == 3


def test_dynamic_int8_writes_ort_pattern_and_matches_onnxruntime():
    model, x = mlp_model()
    q, done = quantize_dynamic(model)
    assert len(done) == 2
    counts = Counter(n.op_type for n in q.graph)
    assert counts["DynamicQuantizeLinear"] == 2 and counts["MatMulInteger"] == 2 and "Gemm" not in counts
    ours = jiasu.Engine(q).run_numpy({"input": x})["output"]
    np.testing.assert_allclose(ours, ort_run(q, {"input": x}), rtol=1e-5, atol=1e-5)
    ref = jiasu.Engine(model).run_numpy({"input": x})["output"]
    assert np.abs(ours - ref).max() <= 0.02 * np.abs(ref).max()


@pytest.mark.parametrize("reduce_range", [False, True])
def test_dynamic_int8_weights_in_7_bits_with_reduce_range(reduce_range):
    model, x = mlp_model()
    q, _ = quantize_dynamic(model, reduce_range=reduce_range)
    weights = [v.const_value.numpy() for v in q.graph.initializers.values() if v.const_value.numpy().dtype == np.int8]
    assert len(weights) == 2 and max(int(np.abs(w).max()) for w in weights) == (64 if reduce_range else 127)
    ref = jiasu.Engine(model).run_numpy({"input": x})["output"]
    ours = jiasu.Engine(q).run_numpy({"input": x})["output"]
    assert np.abs(ours - ref).max() <= (0.04 if reduce_range else 0.02) * np.abs(ref).max()


def test_errors():
    model, _ = residual_model()
    with pytest.raises(JiasuError, match=r"^unknown float type 'fp8'; choose one of: fp16, bf16$"):
        convert_float(model, "fp8")
    with pytest.raises(JiasuError, match=r"^nothing to quantize dynamically: the model has no Gemm/MatMul node with a constant 2-D float weight$"):
        quantize_dynamic(model)
