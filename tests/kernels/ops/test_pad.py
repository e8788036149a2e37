"""Pad's non-constant modes on any rank and dtype, negative pads (crops) and the axes input, against the reference."""

from __future__ import annotations

import numpy as np
import pytest

from ._node import check


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "wrap"])
@pytest.mark.parametrize(
    "shape,pads,axes",
    [
        ((2, 3, 4, 5, 6), [0, 1, 2, 0, 1, 0, 2, 1, 0, 3], None),  # rank 5, every dim
        ((5,), [3, 2], None),  # rank 1
        ((3, 4, 5), [2, 3], [-1]),  # one axis, negative
        ((3, 4, 5), [1, 0, 0, 2], [0, 2]),
    ],
)
def test_pad_modes(mode, shape, pads, axes):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    inputs = [("x", x), ("pads", np.array(pads, np.int64)), ("value", np.array(-7, np.float32))]
    if axes is not None:
        inputs.append(("axes", np.array(axes, np.int64)))
    check("Pad", inputs, {"mode": mode}, opset=19, constants=["pads", "axes"])


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "wrap"])
def test_negative_pads_crop(mode):
    """Crop and pad in one call (np.pad, hence the reference, takes no negative pads: onnxruntime instead)."""
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    for pads in ([-1, 2, 1, -2], [1, -1, -2, 3]):  # crop and pad on each axis, both orders
        check("Pad", [("x", x), ("pads", np.array(pads, np.int64))], {"mode": mode}, opset=19, against="onnxruntime",
              constants=["pads"])


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "wrap"])
def test_pad_integer_and_bool(mode):
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    check("Pad", [("x", x), ("pads", np.array([1, 2, 2, 1], np.int64))], {"mode": mode}, opset=19)
    if mode != "constant":  # the reference pads bools only in constant mode through np.pad with a value
        check("Pad", [("x", x > 5), ("pads", np.array([1, 2, 2, 1], np.int64))], {"mode": mode}, opset=19)


def test_pad_opset2_attribute_form():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    check("Pad", [("x", x)], {"mode": "reflect", "pads": [1, 2, 1, 2]}, opset=2)
