"""Concat: jiasu's C loop for channels_last float32 images joined along their channels, torch.cat elsewhere."""

from __future__ import annotations

import pytest
import torch

import jiasu.kernels.ops.concat as concat_module
from jiasu.kernels.ops.concat import NATIVE_MAX_INPUTS, Concat
from jiasu.kernels.native import status

NATIVE = status("concat")
needs_native = pytest.mark.skipif(bool(NATIVE), reason=f"no native kernels here: {NATIVE}")


def _kernel(axis: int) -> Concat:
    kernel = Concat.__new__(Concat)  # the attribute is all run reads
    kernel.axis = axis
    return kernel


def _images(channels, batch=2, size=(5, 7), last=True, seed=0):
    gen = torch.Generator().manual_seed(seed)
    xs = [torch.randn(batch, c, *size, generator=gen) for c in channels]
    return [x.contiguous(memory_format=torch.channels_last) for x in xs] if last else xs


@needs_native
@pytest.mark.parametrize("channels", [(3, 16, 5), (64, 128, 32, 32), (1, 1), tuple(range(1, NATIVE_MAX_INPUTS + 1))])
@pytest.mark.parametrize("axis", [1, -3])
def test_channels_last_images_take_the_c_loop(channels, axis, monkeypatch):
    xs = _images(channels)
    kernel = _kernel(axis)
    calls = []
    lib = concat_module._library()
    monkeypatch.setattr(concat_module, "_library", lambda: calls.append(1) or lib)
    (y,) = kernel.run(*xs)
    assert calls == [1]
    assert torch.equal(y, torch.cat(xs, 1)) and y.is_contiguous(memory_format=torch.channels_last)
    assert kernel.native_call(*xs) is not None


@pytest.mark.parametrize(
    "xs, axis",
    [
        (_images((3, 4), last=False), 1),  # NCHW memory
        (_images((3, 4)), 2),  # another axis
        (_images((3, 4)) + [_images((2,), size=(5, 6))[0]], 1),  # another size: torch.cat raises, as it should
        (_images((1,) * (NATIVE_MAX_INPUTS + 1)), 1),  # more inputs than the C loop takes
        ([x.double() for x in _images((3, 4))], 1),
    ],
)
def test_anything_else_takes_torch_cat(xs, axis):
    kernel = _kernel(axis)
    assert kernel.native_call(*xs) is None
    try:
        want = torch.cat(xs, dim=axis)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            kernel.run(*xs)
        return
    (y,) = kernel.run(*xs)
    assert torch.equal(y, want)
