"""Helpers for pass tests: build a graph, run it before and after passes, compare."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import onnx_ir as ir
import torch

import jiasu
from jiasu.frontends import copy_model
from jiasu.passes import optimize
from jiasu.runtime.reference import run_onnxruntime

from ..conftest import make_model

#: Outputs before and after a pass may differ by float32 reassociation only.
TOLERANCE = 1e-5


def build(nodes, inputs, outputs, initializers=(), opset: int = 17) -> ir.Model:
    """An onnx-ir model from onnx.helper pieces, checked by onnx.checker."""
    proto = make_model(nodes, inputs, outputs, initializers, opset=opset)
    onnx.checker.check_model(proto)
    return ir.serde.deserialize_model(proto)


def copy(model: ir.Model) -> ir.Model:
    return copy_model(model)


def op_counts(model: ir.Model) -> Counter:
    return Counter(n.op_type for n in model.graph)


def max_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """max |actual - expected|, relative to max |expected| when that is above 1."""
    assert actual.shape == expected.shape
    diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64)).max()
    return float(diff / max(1.0, np.abs(expected).max()))


def run_passes(model: ir.Model, passes: list[str], feeds: dict, *, ort_after: bool | None = None):
    """Run ``passes`` on ``model`` (in place) and check outputs before == after within TOLERANCE.

    Before: our engine and ONNX Runtime (they must agree, so the reference is right).
    After: our engine, and ONNX Runtime too when the graph still has standard ops only.
    Returns the rewritten model and the pass reports.
    """
    before = jiasu.Engine(model).run_numpy(feeds)
    reference = run_onnxruntime(model, feeds)
    for name, expected in reference.items():
        assert np.abs(expected).max() > 0, "the reference must be a meaningful signal"
        assert max_error(before[name], expected) <= TOLERANCE
    model, reports = optimize(model, passes)
    after = jiasu.Engine(model).run_numpy(feeds)
    assert list(after) == list(before), "graph outputs keep their names and order"
    for name, expected in before.items():
        err = max_error(after[name], expected)
        assert err <= TOLERANCE, f"{passes} changed output {name!r} by {err:.2e}"
    if ort_after is None:
        ort_after = all(n.domain == "" for n in model.graph)
    if ort_after:
        for name, expected in run_onnxruntime(model, feeds).items():
            assert max_error(expected, before[name]) <= TOLERANCE
    return model, reports


class Views(torch.nn.Module):
    """The TorchScript exporter writes each ``view(x.size(0), ...)`` as Shape -> Gather -> Unsqueeze -> Concat -> Reshape."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)

    def forward(self, x):
        y = self.conv(x)
        y = y.view(y.size(0), y.size(1), -1)  # [N, 4, 36]
        z = y.reshape(y.shape[0], -1)  # [N, 144]: a Flatten
        return z.view(z.size(0), 4, 6, 6) * 2
