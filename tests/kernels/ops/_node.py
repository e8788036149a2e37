"""Run one ONNX node on jiasu's engine and on a reference (onnx.reference or onnxruntime), and compare."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from jiasu.runtime.onnx_backend import JiasuBackend


def node_model(
    op: str,
    inputs: Sequence[tuple[str, Optional[np.ndarray]]],
    attrs: Optional[dict[str, Any]] = None,
    *,
    n_outputs: int = 1,
    opset: int = 21,
    constants: Sequence[str] = (),
    dynamic: bool = False,
) -> onnx.ModelProto:
    """A one-node model. ``inputs`` are (name, array) pairs, ("", None) for an omitted optional input;
    names in ``constants`` become initializers, the others graph inputs (of any shape if ``dynamic``)."""
    names = [n for n, _ in inputs]
    outputs = [f"y{i}" for i in range(n_outputs)]
    node = helper.make_node(op, names, outputs, **(attrs or {}))
    graph_inputs, inits = [], []
    for name, value in inputs:
        if not name:
            continue
        if name in constants:
            inits.append(numpy_helper.from_array(np.asarray(value), name))
        else:
            dtype = helper.np_dtype_to_tensor_dtype(np.asarray(value).dtype)
            shape = None if dynamic else np.asarray(value).shape
            graph_inputs.append(helper.make_tensor_value_info(name, dtype, shape))
    graph = helper.make_graph(
        [node], op, graph_inputs, [helper.make_empty_tensor_value_info(o) for o in outputs], initializer=inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, 10)  # onnxruntime reads IR <= 13; 10 covers opset 21
    return model


def feeds_of(model: onnx.ModelProto, inputs) -> dict[str, np.ndarray]:
    graph_inputs = {v.name for v in model.graph.input}
    return {n: np.asarray(v) for n, v in inputs if n in graph_inputs}


def run_jiasu(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Outputs from our engine; also asserts the feeds were not modified."""
    before = {k: v.copy() for k, v in feeds.items()}
    out = list(JiasuBackend.prepare(model, check=False).run(feeds))
    for k, v in feeds.items():
        np.testing.assert_array_equal(v, before[k], err_msg=f"input {k!r} was modified")
    return out


def run_reference(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    return list(ReferenceEvaluator(model).run(None, feeds))


def run_onnxruntime(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def check(op, inputs, attrs=None, *, against="reference", rtol=1e-5, atol=1e-6, **kw) -> list[np.ndarray]:
    """Run ``op`` on both sides and assert equal shapes, dtypes and values; returns our outputs."""
    model = node_model(op, inputs, attrs, **kw)
    feeds = feeds_of(model, inputs)
    ours = run_jiasu(model, feeds)
    ref = (run_reference if against == "reference" else run_onnxruntime)(model, feeds)
    assert len(ours) == len(ref)
    for i, (a, b) in enumerate(zip(ours, ref)):
        b = np.asarray(b)
        assert a.shape == b.shape, f"output {i}: shape {a.shape} vs {b.shape}"
        assert a.dtype == b.dtype, f"output {i}: dtype {a.dtype} vs {b.dtype}"
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=f"output {i}")
    return ours
