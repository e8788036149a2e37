"""``nhwc_direct`` (jiasu's C direct convolution) on real layer shapes, against ``F.conv2d`` in float64.

The conformance suite (test_algorithms.py) draws small random convolutions; these shapes are the
ones the C loops were written for, wide enough that every path runs: blocks of 16 and 8 pixels,
one to four output-channel vectors, channel tails, border pixels, and the depthwise 3x3 fast path
at stride 1 and 2.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from jiasu.kernels.conv import CONV_ALGORITHMS, ConvSpec, Epilogue
from jiasu.kernels.conv.nhwc_direct import native_available
from jiasu.kernels.native import status

pytestmark = pytest.mark.skipif(not native_available(), reason=f"native kernels unavailable: {status('direct')}")

# (c_in, c_out, kernel, stride, pad, size, groups)
LAYERS = {
    "smallcnn conv1 (1 -> 16, 7x7)": (1, 16, 7, 1, 0, 40, 1),
    "mobilenet_v2 first (3 -> 32, 3x3 s2)": (3, 32, 3, 2, 1, 40, 1),
    "resnet conv1 (3 -> 64, 7x7 s2)": (3, 64, 7, 2, 3, 48, 1),
    "80 outputs (five vectors: a block of four and one)": (3, 80, 3, 1, 1, 30, 1),
    "20 outputs (a vector and a tail)": (2, 20, 5, 1, 2, 27, 1),
    "depthwise 3x3 s1, 40 channels (two vectors and a tail)": (40, 40, 3, 1, 1, 23, 40),
    "depthwise 3x3 s2, 32 channels": (32, 32, 3, 2, 1, 29, 32),
    "depthwise 5x5 s1 (general path)": (24, 24, 5, 1, 2, 17, 24),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("activation, residual", [("Relu", False), ("Clip", True), ("HardSwish", False)])
@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
def test_layer_matches_conv2d(name, activation, residual, layout):
    """Either input layout: a dense layer reads an NCHW input in place (a network's input), a depthwise one copies it."""
    c_in, c_out, k, stride, pad, size, groups = LAYERS[name]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, c_in, size, size + 3, generator=gen).contiguous(memory_format=layout)
    w = torch.randn(c_out, c_in // groups, k, k, generator=gen)
    b = torch.randn(c_out, generator=gen)
    spec = ConvSpec.from_weight(w, stride=(stride, stride), pads=(pad,) * 4, groups=groups)
    ref = F.conv2d(x.double(), w.double(), b.double(), stride, pad, 1, groups)
    scale = ref.abs().max().item()  # before the epilogue, which works in place
    z = torch.randn(ref.shape, generator=gen) if residual else None
    params = (-1.0, 2.5) if activation == "Clip" else ()
    y = CONV_ALGORITHMS["nhwc_direct"].prepare_fused(w, b, spec, Epilogue(activation, params, residual))(x, z)
    expected = Epilogue(activation, params, residual).apply(ref, z.double() if z is not None else None)
    assert y.shape == expected.shape
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert (y.double() - expected).abs().max().item() / scale < 1e-6


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("pad", [0, 1, 2])
def test_depthwise_3x3_rows_of_every_width(stride, pad):
    """The depthwise 3x3 path takes a row in blocks of 1-8 pixels; a block with a tap column in the padding at
    either end has its own code, and wider padding reads a zero-padded copy.
    Widths 1-19 run every block size and each of those cases; against F.conv2d in float64."""
    gen = torch.Generator().manual_seed(7)
    w, b = torch.randn(16, 1, 3, 3, generator=gen), torch.randn(16, generator=gen)
    spec = ConvSpec.from_weight(w, stride=(stride, stride), pads=(pad,) * 4, groups=16)
    run = CONV_ALGORITHMS["nhwc_direct"].prepare_fused(w, b, spec, Epilogue("Clip", (-1.0, 2.5), True))
    for width in range(max(1, 3 - 2 * pad), 20):
        x = torch.randn(1, 16, 4, width, generator=gen).contiguous(memory_format=torch.channels_last)
        ref = F.conv2d(x.double(), w.double(), b.double(), stride, pad, 1, 16)
        z = torch.randn(ref.shape, generator=gen)
        y = run(x, z)
        expected = (ref + z.double()).clamp(-1.0, 2.5)
        assert (y.double() - expected).abs().max().item() < 1e-5, f"width {width}"


@pytest.mark.parametrize("layout", [torch.channels_last, torch.contiguous_format])
@pytest.mark.parametrize("stride, dilation", [(1, 1), (2, 1), (1, 2)])
@pytest.mark.parametrize("pads", [(0, 0, 0, 0), (1, 1, 1, 1), (3, 3, 3, 3), (0, 1, 1, 0), (1, 0, 0, 2)])
def test_dense_rows_of_every_width(layout, stride, dilation, pads):
    """The dense path takes a whole row in blocks of 6 or 12 (or 16), 4 and 1 pixels, borders included: a row whose
    taps reach into the padding reads a zero-padded copy of its input rows (its window), any other row the input in
    place. Widths 1-19, and 2-5 rows (so the padding rows are some or all of a window), run every block size with
    the pads on either side or one, windows wider and narrower than the input; 3 input channels and 20 outputs (two
    vectors and a tail), against F.conv2d in float64. pads: top, left, bottom, right."""
    top, left, bottom, right = pads
    gen = torch.Generator().manual_seed(11)
    w, b = torch.randn(20, 3, 3, 3, generator=gen), torch.randn(20, generator=gen)
    spec = ConvSpec.from_weight(w, stride=(stride, stride), dilation=(dilation, dilation), pads=pads)
    run = CONV_ALGORITHMS["nhwc_direct"].prepare_fused(w, b, spec, Epilogue("Clip", (-1.0, 2.5), True))
    reach = 2 * dilation + 1
    for width in range(max(1, reach - left - right), 20):
        height = max(2 + width % 4, reach - top - bottom)
        x = torch.randn(2, 3, height, width, generator=gen).contiguous(memory_format=layout)
        ref = F.conv2d(F.pad(x.double(), (left, right, top, bottom)), w.double(), b.double(), stride, 0, dilation)
        z = torch.randn(ref.shape, generator=gen)
        y = run(x, z)
        expected = (ref + z.double()).clamp(-1.0, 2.5)
        assert y.shape == expected.shape, f"width {width}"
        assert (y.double() - expected).abs().max().item() < 1e-5, f"width {width}"


@pytest.mark.parametrize("stride", [1, 2])
def test_a_large_depthwise_output_is_streamed_and_still_right(stride):
    """A depthwise output of 8 MiB or more (4 x 32 x 128 x 128 at stride 1) is stored past the caches, every pixel
    of it, the row's end blocks too; at stride 2 (2 MiB) every store is ordinary. Both match."""
    gen = torch.Generator().manual_seed(5)
    w, b = torch.randn(32, 1, 3, 3, generator=gen), torch.randn(32, generator=gen)
    x = torch.randn(4, 32, 128, 128, generator=gen).contiguous(memory_format=torch.channels_last)
    spec = ConvSpec.from_weight(w, stride=(stride, stride), pads=(1,) * 4, groups=32)
    y = CONV_ALGORITHMS["nhwc_direct"].prepare_fused(w, b, spec, Epilogue("Relu"))(x, None)
    torch.testing.assert_close(y, torch.relu(F.conv2d(x, w, b, stride, 1, 1, 32)), rtol=1e-5, atol=1e-5)


def test_a_large_dense_output_is_streamed_and_still_right():
    """A first layer's output of 8 MiB or more (2 x 32 x 200 x 208 floats, 10 MiB) is stored past the caches from its
    pixel blocks, the border pixels with ordinary stores; read from an NCHW input, it matches."""
    gen = torch.Generator().manual_seed(6)
    w, b = torch.randn(32, 3, 3, 3, generator=gen), torch.randn(32, generator=gen)
    x = torch.randn(2, 3, 200, 208, generator=gen)
    spec = ConvSpec.from_weight(w, pads=(1,) * 4)
    y = CONV_ALGORITHMS["nhwc_direct"].prepare_fused(w, b, spec, Epilogue("Relu"))(x, None)
    torch.testing.assert_close(y, torch.relu(F.conv2d(x, w, b, 1, 1)), rtol=1e-5, atol=1e-5)


def test_nchw_input_and_float64_fallback():
    """A one-channel NCHW input is read as it is (the same memory as NHWC); float64 runs F.conv2d, not the C loop."""
    gen = torch.Generator().manual_seed(1)
    w, b = torch.randn(16, 1, 5, 5, generator=gen), torch.randn(16, generator=gen)
    spec = ConvSpec.from_weight(w, pads=(2,) * 4)
    fn = CONV_ALGORITHMS["nhwc_direct"].prepare_fused(w, b, spec, None)
    x = torch.randn(1, 1, 21, 19, generator=gen)
    torch.testing.assert_close(fn(x, None), F.conv2d(x, w, b, padding=2), rtol=1e-5, atol=1e-5)
    fn64 = CONV_ALGORITHMS["nhwc_direct"].prepare_fused(w.double(), b.double(), spec, None)
    torch.testing.assert_close(fn64(x.double(), None), F.conv2d(x.double(), w.double(), b.double(), padding=2))


@pytest.mark.parametrize("groups", [1, 16])
def test_an_infinity_reaches_only_the_windows_that_cover_it(groups):
    """An infinity in the input makes only the outputs whose windows read it non-finite: depthwise skips the taps in
    the padding, dense reads zeros there from its row's window, and neither lets the infinity reach another output
    (a border row of the input standing in for padding would have turned 0 * inf into NaN elsewhere)."""
    c_in = 16 if groups == 16 else 2
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, c_in, 5, 9, generator=gen)
    x[0, :, 0, 4] = float("inf")
    w = torch.rand(16, c_in // groups, 3, 3, generator=gen) + 0.1  # positive: a covered output is +inf, never NaN
    spec = ConvSpec.from_weight(w, pads=(1, 1, 3, 1), groups=groups)
    y = CONV_ALGORITHMS["nhwc_direct"].prepare_fused(w, None, spec, None)(x.contiguous(memory_format=torch.channels_last), None)
    ref = F.conv2d(F.pad(x, (1, 1, 1, 3)), w, None, 1, 0, 1, groups)
    assert torch.equal(torch.isfinite(y), torch.isfinite(ref))
    torch.testing.assert_close(y, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name, spec", [("nhwc_direct", ConvSpec(3, 16, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1))), ("winograd", ConvSpec(16, 16, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1)))])
def test_an_input_with_other_channels_is_refused(name, spec):
    """The C loops index the input by the weight's channel count: a mismatched input is an error, not a read past it."""
    w = torch.randn(spec.out_channels, spec.in_channels, 3, 3)
    fn = CONV_ALGORITHMS[name].prepare_fused(w, None, spec, None)
    x = torch.randn(1, spec.in_channels + 1, 8, 8).contiguous(memory_format=torch.channels_last)
    with pytest.raises(ValueError, match=rf"^{name}: the input has {spec.in_channels + 1} channels, the weight expects {spec.in_channels}$"):
        fn(x, None)


def test_a_dense_weight_that_is_a_view_is_packed_from_its_values():
    """A weight laid out otherwise (channels_last, as a pass may leave it) is packed from a contiguous copy."""
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(24, 3, 5, 5, generator=gen).contiguous(memory_format=torch.channels_last)
    b = torch.randn(24, generator=gen)
    assert not w.is_contiguous()
    spec = ConvSpec.from_weight(w, stride=(2, 2), pads=(2,) * 4)
    x = torch.randn(2, 3, 21, 19, generator=gen)
    y = CONV_ALGORITHMS["nhwc_direct"].prepare_fused(w, b, spec, Epilogue("Relu"))(x, None)
    torch.testing.assert_close(y, torch.relu(F.conv2d(x, w, b, 2, 2)), rtol=1e-5, atol=1e-5)
