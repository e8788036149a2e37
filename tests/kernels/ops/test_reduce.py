"""Reduce* against the reference: integer dtypes keep their type, keepdims=0, negative and repeated-order axes,
axes as attribute (opset 13) and input (18), empty-set reductions and rank-0 inputs."""

from __future__ import annotations

import numpy as np
import pytest

from ._node import check, feeds_of, node_model, run_jiasu, run_reference

OPS = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare",
       "ReduceLogSum", "ReduceLogSumExp"]
FLOAT_ONLY = {"ReduceLogSum", "ReduceLogSumExp"}


def _x(shape, dtype):
    rng = np.random.default_rng(0)
    if np.issubdtype(dtype, np.integer):
        return rng.integers(1, 5, size=shape).astype(dtype)
    return rng.uniform(0.5, 2.0, size=shape).astype(dtype)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64])
@pytest.mark.parametrize("axes,keepdims", [([-1, 0], 0), ([1], 1), (None, 0)])
def test_axes_as_input(op, dtype, axes, keepdims):
    if op in FLOAT_ONLY and dtype != np.float32:
        pytest.skip("float-only op")
    inputs = [("x", _x((3, 4, 2), dtype))] + ([("axes", np.array(axes, np.int64))] if axes is not None else [])
    if op == "ReduceSumSquare" and dtype == np.int32:  # the reference widens to int64 (np.sum); the spec keeps T
        model = node_model(op, inputs, {"keepdims": keepdims}, opset=18, constants=["axes"])
        (ours,), (ref,) = run_jiasu(model, feeds_of(model, inputs)), run_reference(model, feeds_of(model, inputs))
        assert ours.dtype == np.int32
        np.testing.assert_array_equal(ours, ref)
        return
    check(op, inputs, {"keepdims": keepdims}, opset=18, rtol=1e-5, constants=["axes"])


@pytest.mark.parametrize("op", OPS)
def test_axes_as_attribute_opset13(op):
    if op == "ReduceSum":  # axes became an input already in opset 13
        check(op, [("x", _x((3, 4, 2), np.float32)), ("axes", np.array([0, 2], np.int64))], {}, opset=13, constants=["axes"])
    else:
        check(op, [("x", _x((3, 4, 2), np.float32))], {"axes": [0, 2]}, opset=13, rtol=1e-5)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy inside the reference: mean of an empty slice
@pytest.mark.parametrize("op", OPS)
def test_empty_set(op):
    check(op, [("x", np.zeros((2, 0, 3), np.float32)), ("axes", np.array([1], np.int64))], {"keepdims": 0}, opset=18,
          constants=["axes"])


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceL2"])
def test_rank0_input(op):
    check(op, [("x", np.array(-2.5, np.float32))], {}, opset=18)
