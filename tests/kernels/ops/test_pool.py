"""MaxPool / AveragePool / LpPool against the ONNX reference where the node tests are thin: batch and channels > 1
(MaxPool's Indices are global), asymmetric or large pads (the pre-padded path), storage_order=1, dilations with
pads and ceil_mode, integer inputs."""

from __future__ import annotations

import numpy as np
import pytest

from ._node import check


def _x(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


MAXPOOL_CASES = [
    dict(kernel_shape=[3, 3], strides=[2, 2]),
    dict(kernel_shape=[3, 3], strides=[2, 1], pads=[0, 1, 2, 1]),  # asymmetric: pre-padded with -inf
    dict(kernel_shape=[2, 2], strides=[2, 2], pads=[1, 1, 1, 1]),  # pad > k/2: pre-padded
    dict(kernel_shape=[3, 2], strides=[2, 2], ceil_mode=1, pads=[1, 0, 0, 1]),
    dict(kernel_shape=[3, 3], dilations=[2, 1], strides=[1, 2], pads=[2, 1, 2, 1]),
    dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
]


@pytest.mark.parametrize("storage_order", [0, 1])
@pytest.mark.parametrize("attrs", MAXPOOL_CASES)
def test_maxpool_values_and_indices_2d(attrs, storage_order):
    x = _x((2, 3, 7, 8))
    check("MaxPool", [("x", x)], {**attrs, "storage_order": storage_order}, n_outputs=2, opset=12)


@pytest.mark.parametrize("storage_order", [0, 1])
def test_maxpool_same_lower_stride_3(storage_order):
    """SAME output is ceil(7 / 3) = 3 rows; the reference gets 2 here, onnxruntime agrees with the spec."""
    attrs = {"kernel_shape": [2, 3], "strides": [3, 2], "auto_pad": "SAME_LOWER", "storage_order": storage_order}
    check("MaxPool", [("x", _x((2, 3, 7, 8)))], attrs, n_outputs=2, opset=12, against="onnxruntime")


@pytest.mark.parametrize("pads", [[0, 0, 0, 0, 0, 0], [1, 0, 2, 0, 1, 1]])
def test_maxpool_indices_3d(pads):
    check("MaxPool", [("x", _x((2, 2, 5, 4, 6)))], {"kernel_shape": [2, 2, 3], "strides": [2, 1, 2], "pads": pads}, n_outputs=2, opset=12)


def test_maxpool_1d_and_int8():
    check("MaxPool", [("x", _x((2, 3, 9)))], {"kernel_shape": [3], "strides": [2], "pads": [2, 1]}, n_outputs=2, opset=12)
    xi = np.random.default_rng(1).integers(-128, 127, size=(1, 2, 6, 6)).astype(np.int8)
    # the reference pads integers with NaN and fails: onnxruntime instead
    check("MaxPool", [("x", xi)], {"kernel_shape": [2, 2], "pads": [1, 0, 0, 1]}, opset=12, against="onnxruntime")


AVG_CASES = [
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[0, 1, 2, 1]),
    dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], ceil_mode=1),
    dict(kernel_shape=[2, 3], strides=[2, 2], pads=[0, 1, 1, 2], ceil_mode=1),
    dict(kernel_shape=[3, 3], strides=[2, 1], dilations=[2, 2], pads=[1, 2, 1, 0]),
    dict(kernel_shape=[2, 2], strides=[2, 2], dilations=[2, 1], ceil_mode=1),
    dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
]


@pytest.mark.parametrize("count_include_pad", [0, 1])
@pytest.mark.parametrize("attrs", AVG_CASES)
def test_averagepool(attrs, count_include_pad):
    check("AveragePool", [("x", _x((2, 3, 7, 8)))], {**attrs, "count_include_pad": count_include_pad}, opset=19)


@pytest.mark.parametrize("p", [1, 2, 3])
def test_lppool(p):
    attrs = {"kernel_shape": [3, 2], "strides": [2, 1], "pads": [1, 0, 0, 1], "p": p, "dilations": [1, 2]}
    check("LpPool", [("x", _x((2, 2, 6, 7)))], attrs, opset=18, rtol=1e-4)


@pytest.mark.parametrize("shape", [(1, 16, 26, 26), (1, 48, 12, 12), (8, 16, 26, 26), (2, 3, 7, 9)])
@pytest.mark.parametrize("ceil_mode", [0, 1])
def test_maxpool_2x2_both_paths(shape, ceil_mode):
    """2x2/2 max pooling: torch's kernel on small inputs, strided maxima above HALVE_MIN_NUMEL; same values."""
    from jiasu.kernels.ops.max_pool import HALVE_MIN_NUMEL

    assert (np.prod(shape) > HALVE_MIN_NUMEL) == (shape[0] == 8)
    check("MaxPool", [("x", _x(shape))], {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": ceil_mode}, opset=12)


@pytest.mark.parametrize("channels", [72, 5])
def test_maxpool_c_kernel_propagates_nan_as_torch_does(channels):
    """A NaN in a window gives NaN (torch's rule; the ONNX reference evaluator skips NaNs), in a four-vector run
    (72 channels) and in a tail."""
    import torch
    import torch.nn.functional as F

    from jiasu.kernels.native import status
    from jiasu.runtime import Engine

    from ._node import node_model

    if status("pool"):
        pytest.skip(f"native kernels unavailable: {status('pool')}")
    x = _x((1, channels, 9, 11))
    x[0, channels // 2, 4, 5] = x[0, -1, 2, 3] = np.nan
    import onnx_ir as ir

    model = node_model("MaxPool", [("x", x)], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}, opset=12)
    xt = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
    y = next(iter(Engine(ir.serde.deserialize_model(model)).run({"x": xt}).values()))
    ref = F.max_pool2d(torch.from_numpy(x), 3, 1, 1)
    assert int(torch.isnan(ref).sum()) == 18  # two 3x3 neighbourhoods
    torch.testing.assert_close(y, ref, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("attrs", MAXPOOL_CASES + [dict(kernel_shape=[2, 2], strides=[2, 2]), dict(kernel_shape=[3, 3], strides=[3, 3], ceil_mode=1)])
@pytest.mark.parametrize("shape", [(2, 3, 9, 11), (1, 40, 13, 10), (1, 72, 9, 11)])
def test_maxpool_channels_last_runs_the_c_kernel(attrs, shape, monkeypatch):
    """A channels_last float32 input (what convolutions hand on) is pooled by kernels/native/pool.c: same values
    as the ONNX reference, every pads/ceil_mode/dilation case above, channel counts under and over one vector
    and over the four vectors pooled at once (with 8 or 16 floats a vector)."""
    import torch

    from jiasu.kernels.native import status
    from jiasu.kernels.ops.max_pool import MaxPool
    from jiasu.runtime import Engine

    from ._node import node_model, run_reference

    if status("pool"):
        pytest.skip(f"native kernels unavailable: {status('pool')}")
    calls = []
    native = MaxPool._native
    monkeypatch.setattr(MaxPool, "_native", lambda self, x: calls.append(x.shape) or native(self, x))
    x = _x(shape)
    model = node_model("MaxPool", [("x", x)], attrs, opset=12)
    import onnx_ir as ir

    ours = Engine(ir.serde.deserialize_model(model)).run({"x": torch.from_numpy(x).contiguous(memory_format=torch.channels_last)})
    (ref,) = run_reference(model, {"x": x})
    assert calls == [torch.Size(shape)]
    y = next(iter(ours.values()))
    assert y.is_contiguous(memory_format=torch.channels_last)
    np.testing.assert_array_equal(y.numpy(), ref)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("shape", [(1, 1280, 7, 7), (3, 17, 5, 4), (2, 33, 1, 1)])
def test_global_average_pool_channels_last_runs_the_c_kernel(shape, threads, monkeypatch):
    """A channels_last float32 input is averaged by kernels/native/pool.c (the rows split over 1-3 threads, channel
    tails); the result matches the ONNX reference to float32 rounding. An NCHW input takes torch's mean."""
    import onnx_ir as ir
    import torch

    from jiasu.kernels.native import status
    from jiasu.kernels.ops import _pool
    from jiasu.runtime import Engine

    from ._node import node_model, run_reference

    if status("pool"):
        pytest.skip(f"native kernels unavailable: {status('pool')}")
    calls = []
    library = _pool.pool_library()

    class Spy:
        def jiasu_global_avg_pool(self, *args):
            calls.append(args[1:4])
            return library.jiasu_global_avg_pool(*args)

    monkeypatch.setattr("jiasu.kernels.ops.global_average_pool.pool_library", lambda: Spy())
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    x = _x(shape)
    model = node_model("GlobalAveragePool", [("x", x)], {})
    engine = Engine(ir.serde.deserialize_model(model))
    (ref,) = run_reference(model, {"x": x})
    ours = next(iter(engine.run({"x": torch.from_numpy(x).contiguous(memory_format=torch.channels_last)}).values()))
    assert calls == [(shape[0], shape[2] * shape[3], shape[1])]
    np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-6, atol=1e-6)
    nchw = next(iter(engine.run({"x": x}).values()))
    assert len(calls) == 1 or shape[2:] == (1, 1)  # a 1x1 map is channels_last and NCHW at once
    np.testing.assert_allclose(nchw.numpy(), ref, rtol=1e-6, atol=1e-6)
