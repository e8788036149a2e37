"""The Conv node keeps activations channels_last whichever algorithm runs it."""

import numpy as np
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import jiasu

from ...conftest import make_model


@pytest.mark.parametrize("algo", ["direct", "onednn", "im2col", "fft", "winograd", "gemm"])
def test_channels_last_in_channels_last_out(algo):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="c", pads=[1, 1, 1, 1])
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 8, 8])
    y_info = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 4, 8, 8])
    engine = jiasu.Engine(jiasu.load(make_model([node], [x_info], [y_info], [w])), conv_algorithms={"c": algo})
    x = torch.from_numpy(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))
    y_cl = engine.run({"x": x.contiguous(memory_format=torch.channels_last)})["y"]
    assert y_cl.is_contiguous(memory_format=torch.channels_last)
    y = engine.run({"x": x})["y"]
    torch.testing.assert_close(y_cl, y, rtol=1e-4, atol=1e-5)



@pytest.mark.parametrize("length, kernel, pads", [(1, 3, [1, 1]), (9, 1, [0, 0]), (64, 3, [1, 1])])
def test_conv1d_through_gemm(length, kernel, pads):
    """1-D convs reach the 2-D algorithms as height-1 images: gemm's dense, pointwise and im2col forms."""
    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((6, 5, kernel)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(6).astype(np.float32), "b")
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="c", pads=pads)
    x_info = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 5, length])
    y_info = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 6, length])
    engine = jiasu.Engine(jiasu.load(make_model([node], [x_info], [y_info], [w, b])), conv_algorithms={"c": "gemm"})
    x = torch.from_numpy(rng.standard_normal((3, 5, length)).astype(np.float32))
    wt, bt = (torch.tensor(numpy_helper.to_array(t)) for t in (w, b))
    ref = torch.nn.functional.conv1d(x, wt, bt, padding=pads[0])
    torch.testing.assert_close(engine.run({"x": x})["y"], ref, rtol=1e-5, atol=1e-5)
