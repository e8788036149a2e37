"""eliminate_identity: Identity, inference Dropout, dead nodes and unused initializers go."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from jiasu.passes import optimize

from .conftest import build, op_counts, run_passes

RNG = np.random.default_rng(4)
X = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 5])


def _feeds():
    return {"x": RNG.standard_normal((3, 5)).astype(np.float32)}


def test_identity_dropout_and_dead_code_are_removed():
    inits = [
        numpy_helper.from_array(RNG.standard_normal(5).astype(np.float32), "k"),
        numpy_helper.from_array(np.array(0.3, np.float32), "ratio"),
        numpy_helper.from_array(np.array(False), "training"),
        numpy_helper.from_array(np.ones(7, np.float32), "unused"),
    ]
    nodes = [
        helper.make_node("Identity", ["k"], ["k1"]),  # TorchScript's de-duplicated initializer pattern
        helper.make_node("Identity", ["x"], ["x1"]),
        helper.make_node("Add", ["x1", "k1"], ["a"]),
        helper.make_node("Dropout", ["a", "ratio", "training"], ["d"]),
        helper.make_node("Dropout", ["d"], ["d2", "mask"]),  # mask unread: still inference
        helper.make_node("Exp", ["x"], ["dead"]),
        helper.make_node("Identity", ["d2"], ["y"]),
    ]
    model, reports = run_passes(build(nodes, [X], [Y], inits), ["eliminate_identity"], _feeds())
    assert op_counts(model) == {"Add": 1}
    assert list(model.graph.initializers) == ["k"]
    assert [o.name for o in model.graph.outputs] == ["y"]
    assert reports[0].rewrites == {
        "removed {} Dropout": 2,
        "removed {} Identity": 3,
        "removed {} dead nodes": 1,
        "removed {} unused initializers": 3,
    }
    assert reports[0].summary() == (
        "eliminate_identity: 7 -> 1 nodes; removed 2 Dropout; removed 3 Identity; removed 1 dead nodes; removed 3 unused initializers"
    )


def test_dropout_with_a_fed_training_mode_stays():
    training = helper.make_tensor_value_info("training", TensorProto.BOOL, [])
    nodes = [helper.make_node("Dropout", ["x", "", "training"], ["y"])]
    model, reports = run_passes(build(nodes, [X, training], [Y]), ["eliminate_identity"], {**_feeds(), "training": np.array(False)})
    assert op_counts(model) == {"Dropout": 1} and not reports[0].modified


def test_identity_from_input_to_output_stays():
    model, reports = optimize(build([helper.make_node("Identity", ["x"], ["y"])], [X], [Y]), ["eliminate_identity"])
    assert op_counts(model) == {"Identity": 1} and not reports[0].modified
