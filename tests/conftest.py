"""Shared fixtures: small models built in code (no downloads)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from jiasu.cli import app

_runner = CliRunner()


def first_layer_algorithm() -> str:
    """The default plan's algorithm for ``conv_relu_model``'s conv0: on 3 input channels it is a first layer,
    jiasu's C loop where the C kernels build here, else oneDNN (``jiasu.plan.heuristic``)."""
    from jiasu.kernels.conv.nhwc_direct import native_available

    return "nhwc_direct" if native_available() else "onednn"


def invoke(*args):
    """Run the jiasu CLI in-process with ``args`` (any objects, turned into strings)."""
    return _runner.invoke(app, [str(a) for a in args])


def make_model(nodes, inputs, outputs, initializers=(), opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "test", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


@pytest.fixture
def conv_relu_model() -> onnx.ModelProto:
    """x[N,3,8,8] -> Conv(4 filters 3x3, pad 1) -> Relu -> y; batch axis symbolic."""
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b")
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv0", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["y"], name="relu0"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 8, 8])
    return make_model(nodes, [x], [y], [w, b])


@pytest.fixture
def model_path(tmp_path, conv_relu_model):
    """``conv_relu_model`` saved as an .onnx file."""
    path = tmp_path / "m.onnx"
    onnx.save(conv_relu_model, path)
    return path


def pytest_configure(config):
    # Under pytest-xdist each worker is a process: one torch thread each keeps
    # two workers on two cores from fighting over them.
    import os

    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


@pytest.fixture
def one_thread():
    """One torch thread (training, tiny kernels): on a shared 2-core machine a second OpenMP thread mostly waits."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
