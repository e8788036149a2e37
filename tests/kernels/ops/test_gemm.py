"""Gemm as a fully-connected layer: one row through jiasu's C GEMV (kernels/native/gemv.c), 2-16 rows through
pointwise's C panel product (kernels/native/pointwise.c), more rows (or an activation that is not a clamp) through
oneDNN's inner product, against ONNX Runtime; with the activation a fused jiasu::FusedGemm carries."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest
from onnx import helper, numpy_helper

import jiasu.kernels.ops.gemm as gemm_op
from jiasu.kernels.native import status
from jiasu.passes import optimize
from jiasu.runtime import Engine

from ._node import run_onnxruntime

needs_native = pytest.mark.skipif(bool(status("gemv")), reason=f"native kernels unavailable: {status('gemv')}")

ACTIVATIONS = {"": None, "Relu": {}, "Clip": {}, "LeakyRelu": {"alpha": 0.3}}


def _model(k: int, n: int, trans_b: bool, activation: str):
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((n, k) if trans_b else (k, n)) / np.sqrt(k)).astype(np.float32)
    b = rng.standard_normal(n).astype(np.float32)
    inits = [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")]
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["g" if activation else "y"], transB=int(trans_b))]
    if activation == "Clip":
        inits += [numpy_helper.from_array(np.float32(-0.5), "lo"), numpy_helper.from_array(np.float32(0.7), "hi")]
        nodes.append(helper.make_node("Clip", ["g", "lo", "hi"], ["y"]))
    elif activation:
        nodes.append(helper.make_node(activation, ["g"], ["y"], **ACTIVATIONS[activation]))
    graph = helper.make_graph(
        nodes, "fc", [helper.make_tensor_value_info("x", 1, ["batch", k])], [helper.make_tensor_value_info("y", 1, None)], initializer=inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@needs_native
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("trans_b", [False, True])
@pytest.mark.parametrize("rows, k, n", [(1, 1280, 1000), (1, 37, 5), (1, 6144, 128), (3, 200, 70), (8, 512, 1000), (16, 33, 24), (17, 64, 40)])
def test_fully_connected_matches_onnxruntime(rows, k, n, trans_b, activation, monkeypatch):
    calls = []
    for name in ("_gemv", "_few_rows"):
        original = getattr(gemm_op, name)

        def spy(weight, bias, epilogue, original=original, name=name):
            fn = original(weight, bias, epilogue)
            if fn is None:
                return None
            wrapped = lambda a: calls.append((name, a.shape[0])) or fn(a)  # noqa: E731
            wrapped.__dict__.update(fn.__dict__)
            return wrapped

        monkeypatch.setattr(gemm_op, name, spy)
    model = _model(k, n, trans_b, activation)
    x = np.random.default_rng(1).standard_normal((rows, k)).astype(np.float32)
    (ref,) = run_onnxruntime(model, {"x": x})
    optimized, _ = optimize(ir.serde.deserialize_model(model))
    assert [node.op_type for node in optimized.graph] == (["FusedGemm"] if activation else ["Gemm"])
    y = Engine(optimized).run({"x": x})["y"].numpy()
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    clamp = activation != "LeakyRelu"  # the C loops fuse a clamp; a LeakyRelu takes oneDNN's post-op
    want = [("_gemv", 1)] if rows == 1 else [("_few_rows", rows)] if rows <= gemm_op.FEW_ROWS and clamp else []
    assert calls == want


def test_one_row_without_native_kernels_runs_f_linear(monkeypatch):
    monkeypatch.setattr(gemm_op, "_gemv_library", lambda: None)
    model = _model(300, 40, True, "Relu")
    x = np.random.default_rng(2).standard_normal((1, 300)).astype(np.float32)
    (ref,) = run_onnxruntime(model, {"x": x})
    optimized, _ = optimize(ir.serde.deserialize_model(model))
    np.testing.assert_allclose(Engine(optimized).run({"x": x})["y"].numpy(), ref, rtol=1e-5, atol=1e-5)
