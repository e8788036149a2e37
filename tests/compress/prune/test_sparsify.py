"""sparsify + jiasu::SparseGemm: pruned layers handed to the sparse kernels, results equal to dense, bytes counted."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

import jiasu
from jiasu import zoo
from jiasu.compress.prune import csr_size, make_permanent, prune_unstructured, sparsify
from jiasu.errors import JiasuError
from jiasu.frontends import export_module


def gemm_model(b: np.ndarray, c: np.ndarray | None, m: int, trans_a: int, trans_b: int, alpha: float, beta: float) -> onnx.ModelProto:
    k = b.shape[1] if trans_b else b.shape[0]
    n = b.shape[0] if trans_b else b.shape[1]
    inits = [numpy_helper.from_array(b, "b")] + ([numpy_helper.from_array(c, "c")] if c is not None else [])
    node = helper.make_node("Gemm", ["a", "b"] + (["c"] if c is not None else []), ["y"], name="gemm", transA=trans_a, transB=trans_b, alpha=alpha, beta=beta)
    a_shape = [k, m] if trans_a else [m, k]
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("a", TensorProto.FLOAT, a_shape)], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [m, n])], inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@settings(max_examples=60, deadline=None)
@given(
    m=st.integers(1, 9),
    k=st.integers(1, 40),
    n=st.integers(1, 20),
    trans_a=st.integers(0, 1),
    trans_b=st.integers(0, 1),
    alpha=st.sampled_from([1.0, 0.5]),
    beta=st.sampled_from([1.0, 2.0]),
    bias=st.sampled_from(["none", "row", "full"]),
    sparsity=st.sampled_from([0.6, 0.9, 0.99, 1.0]),
    seed=st.integers(0, 2**16),
)
def test_sparse_gemm_matches_dense(m, k, n, trans_a, trans_b, alpha, beta, bias, sparsity, seed):
    rng = np.random.default_rng(seed)
    b = rng.standard_normal((n, k) if trans_b else (k, n)).astype(np.float32)
    b[rng.random(b.shape) < sparsity] = 0.0
    assume(np.mean(b == 0) >= 0.5 and csr_size(b if trans_b else b.T) < b.nbytes)  # what sparsify takes
    c = {"none": None, "row": rng.standard_normal(n).astype(np.float32), "full": rng.standard_normal((m, n)).astype(np.float32)}[bias]
    a = rng.standard_normal((k, m) if trans_a else (m, k)).astype(np.float32)
    proto = gemm_model(b, c, m, trans_a, trans_b, alpha, beta)
    model = jiasu.load(proto)
    plan = sparsify(model, min_sparsity=0.5)
    assert [layer.op_type for layer in plan.layers] == ["Gemm"] and plan.conv_algorithms == {}
    engine = jiasu.Engine(model)
    (kernel,) = [s.kernel for s in engine.steps]
    assert type(kernel).__name__ == "SparseGemm"
    kernel.measure = False  # always the sparse product
    y = engine.run({"a": a})["y"].numpy()
    a64 = a.astype(np.float64).T if trans_a else a.astype(np.float64)
    b64 = b.astype(np.float64).T if trans_b else b.astype(np.float64)
    expected = alpha * a64 @ b64 + (beta * c if c is not None else 0.0)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-5 * max(1.0, np.abs(expected).max()))
    assert set(kernel.choices.values()) == {"sparse"}


def test_pruned_smallcnn_runs_sparse_and_matches_torch():
    torch.set_num_threads(1)
    model = zoo.get("smallcnn", num_classes=10, image_size=28, padding=2)
    prune_unstructured(model, 0.9, scope="layer")
    make_permanent(model)
    x = torch.randn(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model(x).numpy()
    ir_model = jiasu.load(export_module(model, x[:1]))
    plan = sparsify(ir_model)
    assert set(plan.conv_algorithms) == {"/conv1/Conv", "/conv2/Conv", "/conv3/Conv"}
    assert [layer.node for layer in plan.layers if layer.op_type == "Gemm"] == ["/fc1/Gemm", "/fc2/Gemm"]
    # fc1: 1536 x 128 at 90%: 19,661 non-zeros -> 8 bytes each + 129 row pointers, vs 786,432 dense bytes.
    fc1 = next(layer for layer in plan.layers if layer.node == "/fc1/Gemm")
    assert fc1.dense_bytes == 1536 * 128 * 4 and fc1.csr_bytes == 8 * fc1.nonzero + 4 * 129
    assert plan.csr_bytes < 0.25 * plan.dense_bytes
    engine = jiasu.Engine(ir_model, conv_algorithms=plan.conv_algorithms)
    np.testing.assert_allclose(engine.run({"input": x})["output"].numpy(), expected, rtol=0, atol=1e-5)
    report = {c.name: c.choice for c in engine.algorithm_report() if c.op_type == "Conv"}
    assert set(report.values()) == {"sparse"}


def test_dense_layers_are_left_alone():
    model = jiasu.load(gemm_model(np.ones((4, 3), np.float32), None, 2, 0, 0, 1.0, 1.0))
    plan = sparsify(model)
    assert plan.layers == [] and [n.op_type for n in model.graph] == ["Gemm"]


def test_layers_whose_csr_is_not_smaller_are_left_alone():
    b = np.zeros((8, 8), np.float32)
    b[:, :4] = 1.0  # 50% zeros: CSR needs 32 * 8 + 9 * 4 = 292 bytes, dense 256
    assert csr_size(b) == 292
    model = jiasu.load(gemm_model(b, None, 2, 0, 1, 1.0, 1.0))
    assert sparsify(model, min_sparsity=0.5).layers == []


def test_csr_size():
    assert csr_size(np.array([[0, 1, 0], [0, 0, 0]], np.float32)) == 4 + 4 + 3 * 4


def test_bad_min_sparsity():
    with pytest.raises(JiasuError) as e:
        sparsify(jiasu.load(gemm_model(np.ones((4, 3), np.float32), None, 2, 0, 0, 1.0, 1.0)), 1.0)
    assert str(e.value) == "min_sparsity must be in (0, 1), got 1.0"
