"""Flatten and Softmax: jiasu's C loops where a classifier ends (a channels_last batch flattened, a small softmax),
so a chain can take them; torch elsewhere. Same values as torch, and the call a chain would run."""

from __future__ import annotations

import pytest
import torch

import jiasu.kernels.ops.flatten as flatten_module
import jiasu.kernels.ops.softmax as softmax_module
from jiasu.kernels.native import status
from jiasu.kernels.ops.flatten import Flatten
from jiasu.kernels.ops.log_softmax import LogSoftmax
from jiasu.kernels.ops.softmax import NATIVE_MAX_ELEMENTS, Softmax

NATIVE = status("flatten") or status("softmax")
needs_native = pytest.mark.skipif(bool(NATIVE), reason=f"no native kernels here: {NATIVE}")


def _kernel(cls, **attrs):
    kernel = cls.__new__(cls)  # the attributes are all run reads
    for k, v in attrs.items():
        setattr(kernel, k, v)
    return kernel


def _counting(module, monkeypatch) -> list:
    calls, lib = [], module._library()
    monkeypatch.setattr(module, "_library", lambda: calls.append(1) or lib)
    return calls


@needs_native
@pytest.mark.parametrize("shape", [(1, 96, 8, 8), (3, 5, 7, 2), (2, 300, 3, 3)])
@pytest.mark.parametrize("axis", [1, -3])
def test_a_channels_last_batch_is_flattened_channel_major_in_c(shape, axis, monkeypatch):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0)).contiguous(memory_format=torch.channels_last)
    kernel = _kernel(Flatten, axis=axis)
    calls = _counting(flatten_module, monkeypatch)
    (y,) = kernel.run(x)
    assert calls == [1]
    assert torch.equal(y, x.contiguous().reshape(shape[0], -1)) and y.is_contiguous()
    call = kernel.native_call(x)
    assert call is not None and call.alias is None


@pytest.mark.parametrize(
    "x, axis",
    [
        (torch.randn(2, 3, 4, 5), 1),  # contiguous: a view
        (torch.randn(2, 3, 4, 5).contiguous(memory_format=torch.channels_last), 2),  # another axis
        (torch.randn(2, 3, 4, 5).double().contiguous(memory_format=torch.channels_last), 1),  # float64
        (torch.randn(2, 3, 4, 5).transpose(2, 3), 1),  # neither layout
    ],
)
def test_anything_else_is_a_view_or_torch_reshape(x, axis):
    kernel = _kernel(Flatten, axis=axis)
    (y,) = kernel.run(x)
    assert torch.equal(y, x.reshape(x.shape[:axis].numel(), -1))
    call = kernel.native_call(x)
    assert (call is not None and call.alias == 0) if x.is_contiguous() else call is None


@needs_native
@pytest.mark.parametrize("shape, axis, legacy", [((1, 848), -1, False), ((8, 1000), 1, False), ((2, 3, 10), -1, False), ((2, 3, 10), 1, True), ((4, 1), -1, False)])
def test_small_softmax_runs_in_c_and_matches_torch(shape, axis, legacy, monkeypatch):
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(1)) * 20  # large logits: the max is subtracted
    kernel = _kernel(Softmax, axis=axis, legacy=legacy)
    calls = _counting(softmax_module, monkeypatch)
    (y,) = kernel.run(x)
    assert calls == [1]
    rows = x.shape[: axis % x.dim()].numel()
    want = torch.softmax(x.double().reshape(rows, -1), 1).reshape(shape)
    torch.testing.assert_close(y.double(), want, rtol=1e-6, atol=1e-7)
    assert kernel.native_call(x) is not None


@needs_native
def test_a_nan_or_infinite_logit_gives_what_torch_gives():
    x = torch.randn(4, 6)
    x[0, 2], x[1, 0], x[2, :] = float("nan"), float("inf"), float("-inf")
    (y,) = _kernel(Softmax, axis=-1, legacy=False).run(x)
    want = torch.softmax(x, -1)
    assert torch.equal(y.isnan(), want.isnan())
    torch.testing.assert_close(y.nan_to_num(0.5), want.nan_to_num(0.5))


@pytest.mark.parametrize(
    "x, axis, cls",
    [
        (torch.randn(2, 5, 3), 1, Softmax),  # not the last axis (opset 13)
        (torch.randn(NATIVE_MAX_ELEMENTS // 100 + 1, 100), -1, Softmax),  # large: torch's vectorized loop
        (torch.randn(3, 7).double(), -1, Softmax),
        (torch.randn(7, 3).t(), -1, Softmax),  # not contiguous
        (torch.randn(3, 7), -1, LogSoftmax),  # a subclass computing something else
    ],
)
def test_other_softmaxes_take_torch(x, axis, cls):
    kernel = _kernel(cls, axis=axis, legacy=False)
    assert kernel.native_call(x) is None
    (y,) = kernel.run(x)
    torch.testing.assert_close(y, cls.fn(x, axis))
