"""TopK ties: ONNX wants the lower index first among equal values (torch.topk does not promise it)."""

from __future__ import annotations

import numpy as np
import pytest

from ._node import check


@pytest.mark.parametrize("largest", [0, 1])
@pytest.mark.parametrize("axis", [0, -1, 1])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_top_k_with_many_ties(largest, axis, dtype):
    x = np.random.default_rng(axis + 5).integers(0, 4, size=(6, 9, 5)).astype(dtype)  # few distinct values
    k = np.array([3], dtype=np.int64)
    check("TopK", [("x", x), ("k", k)], {"axis": axis, "largest": largest}, n_outputs=2, constants=["k"])


def test_top_k_runtime_k_and_opset1_attribute():
    x = np.random.default_rng(0).standard_normal((4, 7)).astype(np.float32)
    check("TopK", [("x", x), ("k", np.array([7], np.int64))], {}, n_outputs=2)
    check("TopK", [("x", x)], {"k": 2, "axis": 0}, n_outputs=2, opset=1)
