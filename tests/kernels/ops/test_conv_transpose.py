"""ConvTranspose against onnxruntime: output_shape (larger and smaller than the full output), auto_pad,
asymmetric pads, groups, dilations, output_padding, bias, 1-D and 3-D."""

from __future__ import annotations

import numpy as np
import pytest

from ._node import check


def _arr(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


CASES = [
    dict(strides=[2, 2]),
    dict(strides=[3, 2], output_shape=[10, 8]),  # larger than the full 9x7 output: zero-extended
    dict(strides=[2, 2], output_shape=[6, 7]),  # smaller: cropped, larger half at the tail (NOTSET)
    dict(strides=[2, 3], output_shape=[9, 10], output_padding=[1, 1]),
    dict(strides=[2, 2], auto_pad="SAME_UPPER"),
    dict(strides=[2, 3], auto_pad="SAME_LOWER"),
    dict(strides=[2, 1], pads=[1, 0, 0, 2]),
    dict(strides=[2, 2], pads=[1, 1, 1, 1], dilations=[2, 1], output_padding=[1, 0]),
    dict(strides=[1, 3], dilations=[1, 2], output_padding=[0, 2], group=2),
]


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("attrs", CASES)
def test_conv_transpose_2d(attrs, bias):
    group = attrs.get("group", 1)
    x, w = _arr((2, 4, 4, 3), 0), _arr((4, 6 // group, 3, 3), 1)
    inputs = [("x", x), ("w", w)] + ([("b", _arr((6,), 2))] if bias else [])
    check("ConvTranspose", inputs, attrs, against="onnxruntime", rtol=1e-4, atol=1e-5, constants=["w", "b"])


def test_conv_transpose_runtime_weight_and_1d_3d():
    check("ConvTranspose", [("x", _arr((1, 2, 5), 3)), ("w", _arr((2, 3, 4), 4))], {"strides": [3], "pads": [2, 1]},
          against="onnxruntime", rtol=1e-4, atol=1e-5)
    check("ConvTranspose", [("x", _arr((1, 2, 3, 2, 3), 5)), ("w", _arr((2, 2, 2, 3, 2), 6))],
          {"strides": [2, 1, 2], "output_shape": [7, 4, 6]}, against="onnxruntime", rtol=1e-4, atol=1e-5)
