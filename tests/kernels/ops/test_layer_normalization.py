"""LayerNormalization: the Mean / InvStdDev outputs, a scale that only broadcasts, and float16 input."""

from __future__ import annotations

import numpy as np
import pytest

from ._node import check, node_model, run_jiasu, run_reference


def _x(shape, dtype=np.float32, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * 3 + 1).astype(dtype)


@pytest.mark.parametrize("axis", [-1, -2, 1])
def test_stats_outputs(axis):
    x = _x((2, 3, 4, 5))
    norm = x.shape[axis:] if axis != 1 else x.shape[1:]
    check("LayerNormalization", [("x", x), ("s", _x(norm, seed=1)), ("b", _x(norm, seed=2))], {"axis": axis, "epsilon": 1e-3},
          n_outputs=3, rtol=1e-4, atol=1e-5)


def test_broadcast_scale_without_bias():
    x = _x((2, 3, 4))
    check("LayerNormalization", [("x", x), ("s", _x((1, 4), seed=1))], {"axis": 1}, rtol=1e-4, atol=1e-5)


def test_float16_computed_in_float32():
    """stash_type=1: statistics in float32. The reference computes in float16, so compare with its float32 run."""
    inputs = [("x", _x((3, 8), np.float16)), ("s", _x((8,), np.float16, 1)), ("b", _x((8,), np.float16, 2))]
    ours = run_jiasu(node_model("LayerNormalization", inputs), {n: v for n, v in inputs})[0]
    inputs32 = [(n, v.astype(np.float32)) for n, v in inputs]
    ref = run_reference(node_model("LayerNormalization", inputs32), dict(inputs32))[0]
    assert ours.dtype == np.float16
    np.testing.assert_allclose(ours, ref.astype(np.float16), rtol=1e-3, atol=1e-3)
