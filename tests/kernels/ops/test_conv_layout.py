"""The Conv node keeps activations channels_last whichever algorithm runs it."""

import numpy as np
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

import jiasu

from ...conftest import make_model


@pytest.mark.parametrize("algo", ["direct", "onednn", "im2col", "fft", "winograd"])
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
