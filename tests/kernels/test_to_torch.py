"""``to_torch``: every kind of value the engine is fed or holds, with no copy where none is needed."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import torch

from jiasu.kernels.base import to_torch


def test_numpy_array_is_shared_not_copied():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = to_torch(a)
    assert t.dtype == torch.float32 and t.shape == (2, 3)
    a[0, 0] = 42.0
    assert t[0, 0].item() == 42.0


def test_read_only_array_is_copied():
    a = np.arange(4, dtype=np.int64)
    a.flags.writeable = False
    t = to_torch(a)
    assert torch.equal(t, torch.arange(4))


def test_onnx_ir_tensor_and_torch_tensor():
    values = np.array([[1.5, -2.0]], dtype=np.float32)
    assert torch.equal(to_torch(ir.tensor(values)), torch.from_numpy(values))
    t = torch.ones(3)
    assert to_torch(t) is t


def test_python_list():
    assert torch.equal(to_torch([1.0, 2.0]), torch.tensor([1.0, 2.0], dtype=torch.float64))


def test_every_numeric_numpy_dtype_and_bfloat16():
    """Plain numeric arrays take the quick path (shared, dtype kept); ml_dtypes' bfloat16, which torch.from_numpy
    does not know, is converted bit for bit."""
    import ml_dtypes

    for dtype, want in ((np.float16, torch.float16), (np.bool_, torch.bool), (np.uint8, torch.uint8), (np.int32, torch.int32)):
        a = np.ones(3, dtype=dtype)
        t = to_torch(a)
        assert t.dtype == want and t.data_ptr() == a.ctypes.data
    b = np.array([1.5, -2.0, 3.0], dtype=ml_dtypes.bfloat16)
    t = to_torch(b)
    assert t.dtype == torch.bfloat16 and t.tolist() == [1.5, -2.0, 3.0]
