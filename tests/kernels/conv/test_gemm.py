"""``gemm``: each of its three forms on the shapes it is for, exact against ``F.conv2d``, channels_last out."""

from __future__ import annotations

import pytest
import torch

from jiasu.kernels.conv import CONV_ALGORITHMS, ConvSpec, Epilogue
from jiasu.kernels.conv.gemm import form

from .test_algorithms import reference, relative_error

pytestmark = pytest.mark.usefixtures("one_thread")

GEMM = CONV_ALGORITHMS["gemm"]


def _spec(c_in, c_out, k, stride=1, pad=0, dilation=1) -> ConvSpec:
    return ConvSpec(c_in, c_out, (k, k), (stride, stride), (dilation, dilation), (pad,) * 4, 1)


@pytest.mark.parametrize(
    "spec, hw, expected",
    [
        # resnet18 at 28x28: the downsampling 1x1 convs, layer4's 3x3 convs on 2x2 -> 1x1 and 1x1 maps
        (_spec(64, 128, 1, stride=2), (7, 7), "pointwise"),
        (_spec(256, 512, 1, stride=2), (2, 2), "pointwise"),
        (_spec(256, 512, 3, stride=2, pad=1), (2, 2), "dense"),
        (_spec(512, 512, 3, pad=1), (1, 1), "dense"),
        # every output sees the whole 2x2 input, but the matrix (16 blocks) would outgrow the weight (9 taps)
        (_spec(256, 256, 3, pad=1), (2, 2), "im2col"),
        (_spec(64, 64, 3, pad=1), (7, 7), "im2col"),
        (_spec(8, 8, 1, pad=1), (4, 4), "im2col"),  # a padded 1x1 conv is not a plain matmul
        # a dilated kernel whose taps skip input pixels: not fully connected
        (_spec(4, 4, 3, pad=2, dilation=2), (1, 2), "im2col"),
        (_spec(4, 4, 3, pad=2, dilation=2), (1, 1), "dense"),
    ],
)
def test_form(spec, hw, expected):
    assert form(spec, *hw) == expected


@pytest.mark.parametrize(
    "spec, hw",
    [
        (_spec(16, 24, 1, stride=2), (7, 7)),
        (_spec(16, 24, 1), (3, 5)),
        (_spec(24, 32, 3, stride=2, pad=1), (2, 2)),
        (_spec(32, 32, 3, pad=1), (1, 1)),
        (_spec(8, 8, 3, pad=2, dilation=2), (1, 1)),
        (ConvSpec(6, 10, (3, 3), (2, 2), (1, 1), (1, 1, 0, 0), 1), (2, 2)),  # asymmetric pads
        (_spec(16, 16, 3, pad=1), (4, 4)),
        (_spec(3, 8, 7, stride=2, pad=3), (11, 9)),
    ],
)
@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("epilogue", [None, Epilogue("Relu", (), True), Epilogue("Clip", (0.0, 6.0), False)])
def test_forms_match_conv2d(spec, hw, channels_last, epilogue):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, spec.in_channels, *hw, generator=gen)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    w = torch.randn(spec.out_channels, spec.in_channels, *spec.kernel, generator=gen)
    b = torch.randn(spec.out_channels, generator=gen)
    ref = reference(x, w, b, spec)
    z = torch.randn(ref.shape, generator=gen) if epilogue is not None and epilogue.residual else None
    x_before = x.clone()
    y = GEMM.prepare_fused(w, b, spec, epilogue)(x, z)
    assert torch.equal(x, x_before)
    if epilogue is not None:
        ref = ref + z.double() if z is not None else ref
        ref = ref.relu() if epilogue.activation == "Relu" else ref.clamp(0.0, 6.0)
    assert y.shape == ref.shape
    assert y.is_contiguous(memory_format=torch.channels_last)  # the layout the engine keeps between convs
    assert relative_error(y, ref, x, w) <= 1e-5


def test_plans_per_input_size():
    """One prepared conv on alternating input sizes: each size gets its own form (dense at 1x1, im2col at 4x4)."""
    spec = _spec(8, 8, 3, pad=1)
    gen = torch.Generator().manual_seed(1)
    w, b = torch.randn(8, 8, 3, 3, generator=gen), torch.randn(8, generator=gen)
    fn = GEMM.prepare(w, b, spec)
    for hw in [(1, 1), (4, 4), (1, 1), (4, 4)]:
        x = torch.randn(2, 8, *hw, generator=gen)
        assert relative_error(fn(x), reference(x, w, b, spec), x, w) <= 1e-5


def test_dense_uses_only_the_taps_that_touch_the_input():
    """A 3x3 conv, pad 1, on a 1x1 map reads only the centre tap: the others may be anything."""
    spec = _spec(4, 5, 3, pad=1)
    gen = torch.Generator().manual_seed(2)
    w = torch.randn(5, 4, 3, 3, generator=gen)
    x = torch.randn(2, 4, 1, 1, generator=gen)
    w_noise = w.clone()
    w_noise[:, :, 0, :] = float("nan")  # never read
    y = GEMM.prepare(w_noise, None, spec)(x)
    torch.testing.assert_close(y.reshape(2, 5), x.reshape(2, 4) @ w[:, :, 1, 1].t())
