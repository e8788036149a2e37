"""jiasu::InvertedResidual: the C kernel (both of its ways to split work over threads) and the torch
fallback against three F.conv2d calls."""

from __future__ import annotations

import math

import numpy as np
import onnx_ir as ir
import pytest
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

import jiasu
from jiasu.kernels.native import status

from ...conftest import make_model

needs_native = pytest.mark.skipif(bool(status("inverted_residual")), reason=status("inverted_residual") or "")
RELU6 = (0.0, 6.0)
OPEN = (-math.inf, math.inf)


def _weights(cin, hid, cout, expand, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    we = r(hid, cin, 1, 1) / math.sqrt(cin) if expand else None
    be = r(hid) * 0.1 if expand else None
    return we, be, r(hid, 1, 3, 3) / 3, r(hid) * 0.1, r(cout, hid, 1, 1) / math.sqrt(hid), r(cout) * 0.1


def _model(weights, stride, clamps, cin, residual):
    names, inits = ["x"], []
    for i, w in enumerate(weights):
        if w is None:
            names.append("")
        else:
            inits.append(numpy_helper.from_array(w.numpy(), f"w{i}"))
            names.append(f"w{i}")
    if residual:
        names.append("x")
    flat = [float(v) for pair in clamps for v in pair]
    node = helper.make_node("InvertedResidual", names, ["y"], domain="jiasu", stride=stride, clamps=flat)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", cin, "H", "W"])
    proto = make_model([node], [x], [helper.make_empty_tensor_value_info("y")], inits)
    proto.opset_import.append(helper.make_opsetid("jiasu", 1))
    return ir.serde.deserialize_model(proto)


def _reference(x, weights, stride, clamps, residual):
    we, be, wd, bd, wp, bp = weights
    e = F.conv2d(x, we, be).clamp(*clamps[0]) if we is not None else x
    d = F.conv2d(e, wd, bd, stride, 1, 1, wd.shape[0]).clamp(*clamps[1])
    y = F.conv2d(d, wp, bp)
    return (y + x if residual else y).clamp(*clamps[2])


CASES = [
    # cin, hid, cout, stride, h, w, expand, residual
    (8, 48, 8, 1, 14, 14, True, True),
    (5, 32, 24, 2, 15, 15, True, False),  # odd size at stride 2; a partial output vector
    (16, 96, 24, 2, 10, 7, True, False),  # not square; 7 columns: every pixel an edge or interior block tail
    (32, 32, 16, 1, 12, 12, False, False),  # no expand (mobilenet_v2's first block)
    (24, 144, 24, 1, 28, 28, True, True),  # several row groups an image: the kept rows of e are moved, not recomputed
    (64, 384, 64, 1, 7, 7, True, True),  # batch 1: the expand's weight outweighs 49 pixels, its panels split
    (64, 192, 320, 2, 9, 9, True, False),  # batch 1: the projection's panels split, from a whole depthwise output
]


@needs_native
@pytest.mark.parametrize("batch", [1, 3], ids=["shared_rows", "groups"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}-{c[2]}-s{c[3]}-{c[4]}x{c[5]}{'' if c[6] else '-noexpand'}" for c in CASES])
def test_c_kernel_matches_three_convs(case, batch, threads):
    cin, hid, cout, stride, h, w, expand, residual = case
    weights = _weights(cin, hid, cout, expand)
    clamps = [RELU6, RELU6, OPEN]
    engine = jiasu.Engine(_model(weights, stride, clamps, cin, residual), threads=threads)
    assert engine.algorithm_report() == []  # not a conv algorithm choice: plans and tuning leave it alone
    x = torch.randn(batch, cin, h, w, generator=torch.Generator().manual_seed(1)) * 2
    got = engine.run({"x": x})["y"]
    assert [t["algorithm"] for t in engine.node_times({"x": x}, repeats=1)] == ["c"]
    want = _reference(x, weights, stride, clamps, residual)
    assert got.shape == want.shape == (batch, cout, (h - 1) // stride + 1, (w - 1) // stride + 1)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


@needs_native
def test_relu_clamps_and_a_clamped_project():
    """Every clamp is applied where it belongs: a ReLU expand, an open depthwise, a project clipped to [-1, 1]."""
    weights = _weights(8, 32, 8, True, seed=3)
    clamps = [(0.0, math.inf), OPEN, (-1.0, 1.0)]
    engine = jiasu.Engine(_model(weights, 1, clamps, 8, True))
    x = torch.randn(2, 8, 9, 9) * 3
    got = engine.run({"x": x})["y"]
    want = _reference(x, weights, 1, clamps, True)
    assert float(want.min()) == -1.0 and float(want.max()) == 1.0  # the project's clamp bites
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def test_torch_fallback_matches_three_convs():
    """What runs off CPU float32 or where the C kernels do not build."""
    weights = _weights(8, 48, 16, True, seed=5)
    clamps = [RELU6, RELU6, OPEN]
    engine = jiasu.Engine(_model(weights, 2, clamps, 8, False))
    kernel = engine.steps[0].kernel
    x = torch.randn(2, 8, 11, 11, dtype=torch.float64)
    assert kernel.algorithm_for(x) == "torch"
    got = kernel.run(x)[0]
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), _reference(x.float(), weights, 2, clamps, False).numpy(), rtol=1e-5, atol=1e-5)


def test_bad_attributes_and_inputs_are_refused():
    weights = _weights(8, 32, 8, True)
    with pytest.raises(jiasu.JiasuError, match=r"InvertedResidual node '': needs stride 1 or 2 and six clamps, got stride 3 and 6 clamps"):
        jiasu.Engine(_model(weights, 3, [RELU6, RELU6, OPEN], 8, False))
    engine = jiasu.Engine(_model(weights, 1, [RELU6, RELU6, OPEN], 8, False))
    with pytest.raises(ValueError, match=r"InvertedResidual: the input has 4 channels, the weight expects 8"):
        engine.steps[0].kernel.run(torch.randn(1, 4, 8, 8))
