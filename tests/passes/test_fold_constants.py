"""fold_constants: Constant nodes and all-constant subgraphs become initializers."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from jiasu.passes import optimize
from jiasu.passes.fold_constants import FoldConstants

from .conftest import build, op_counts, run_passes

RNG = np.random.default_rng(3)


def _model():
    """y = Reshape(x + Sqrt(a) * c, Concat(Shape(a), [-1]))  with a an initializer, c a Constant node."""
    a = numpy_helper.from_array(np.abs(RNG.standard_normal((2, 3))).astype(np.float32), "a")
    nodes = [
        helper.make_node("Constant", [], ["c"], value=numpy_helper.from_array(RNG.standard_normal((2, 3)).astype(np.float32))),
        helper.make_node("Constant", [], ["minus_one"], value_ints=[-1]),
        helper.make_node("Sqrt", ["a"], ["r"]),
        helper.make_node("Mul", ["r", "c"], ["m"]),
        helper.make_node("Add", ["x", "m"], ["s"]),
        helper.make_node("Shape", ["a"], ["sa"]),
        helper.make_node("Concat", ["sa", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["s", "target"], ["y"]),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 1])
    return build(nodes, [x], [y], [a])


def test_constant_subgraphs_fold_to_initializers():
    model, reports = run_passes(_model(), ["fold_constants"], {"x": RNG.standard_normal((2, 3)).astype(np.float32)})
    assert op_counts(model) == {"Add": 1, "Reshape": 1}
    assert len(model.graph.initializers) == 2, "the folded product and the folded target; a and the Constants are gone"
    add = model.graph[0]
    np.testing.assert_array_equal(add.inputs[1].const_value.numpy().shape, (2, 3))
    assert reports[0].rewrites == {"lifted {} Constant to initializers": 2, "folded {} constant nodes": 4}


def test_large_results_stay_computed():
    nodes = [
        helper.make_node("ConstantOfShape", ["shape"], ["big"], value=numpy_helper.from_array(np.array([1.0], np.float32))),
        helper.make_node("Add", ["x", "big"], ["y"]),
    ]
    shape = numpy_helper.from_array(np.array([64, 64], np.int64), "shape")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [64, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [64, 64])
    model = build(nodes, [x], [y], [shape])
    FoldConstants(max_elements=1000)(model)
    assert op_counts(model) == {"ConstantOfShape": 1, "Add": 1}
    FoldConstants()(model)
    assert op_counts(model) == {"Add": 1}


def test_nodes_reading_a_graph_input_are_not_folded():
    nodes = [helper.make_node("Mul", ["x", "k"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])
    model = build(nodes, [x], [y], [numpy_helper.from_array(np.ones(3, np.float32), "k")])
    model, reports = optimize(model, ["fold_constants"])
    assert op_counts(model) == {"Mul": 1} and not reports[0].modified
