"""``pointwise`` (jiasu's C 1x1 convolution) on real layer shapes, against ``F.conv2d`` in float64.

The conformance suite (test_algorithms.py) draws small random 1x1 convolutions; these are the shapes
the C loop was written for, sized so that every path runs: panels of four vectors and a narrower last
panel, channel tails (24, 33, 49, 300 outputs), strips split evenly over the threads (a 7x7 map at batch 1
is 49 rows), every block height at a strip's end, a long run of input channels, and small maps whose
weight is split over the threads by panels instead (more output channels than pixels).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from jiasu.kernels.conv import CONV_ALGORITHMS, ConvSpec, Epilogue
from jiasu.kernels.conv.pointwise import native_available
from jiasu.kernels.native import status

pytestmark = pytest.mark.skipif(not native_available(), reason=f"native kernels unavailable: {status('pointwise')}")

# (c_in, c_out, batch, height, width)
LAYERS = {
    "mobilenet_v2 expand 16 -> 96 (a panel of four vectors, one of two)": (16, 96, 1, 28, 28),
    "mobilenet_v2 project 144 -> 24 (one vector and a tail)": (144, 24, 2, 14, 14),
    "mobilenet_v2 last 320 -> 1280 on 7x7 (twenty panels, 49 rows)": (320, 1280, 1, 7, 7),
    "resnet50 2048 -> 512 (a long run of input channels)": (2048, 512, 1, 3, 5),
    "33 outputs (a panel of three vectors, the last one lane wide)": (5, 33, 1, 9, 11),
    "49 outputs (a panel of four vectors, the last one lane wide)": (7, 49, 3, 5, 5),
    "one pixel": (64, 80, 1, 1, 1),
    "300 outputs on 2x3 (split by panels: four of four vectors, one of three, a tail)": (40, 300, 1, 2, 3),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("activation, residual", [("Relu", False), ("Clip", True), ("HardSwish", True), ("", False)])
def test_layer_matches_conv2d(name, threads, activation, residual, monkeypatch):
    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)  # the thread count the C loop is given
    c_in, c_out, batch, h, w = LAYERS[name]
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, c_in, h, w, generator=gen).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(c_out, c_in, 1, 1, generator=gen)
    bias = torch.randn(c_out, generator=gen)
    spec = ConvSpec.from_weight(weight, pads=(0,) * 4)
    ref = F.conv2d(x.double(), weight.double(), bias.double())
    scale = ref.abs().max().item()  # before the epilogue, which works in place
    z = torch.randn(ref.shape, generator=gen).contiguous(memory_format=torch.channels_last) if residual else None
    params = (-1.0, 2.5) if activation == "Clip" else ()
    epilogue = Epilogue(activation, params, residual)
    y = CONV_ALGORITHMS["pointwise"].prepare_fused(weight, bias, spec, epilogue)(x, z)
    expected = epilogue.apply(ref, z.double() if z is not None else None)
    assert y.shape == expected.shape
    assert y.is_contiguous(memory_format=torch.channels_last)
    assert (y.double() - expected).abs().max().item() / scale < 1e-5  # float32 sums of up to 2048 products: 1.9e-6 seen


@pytest.mark.parametrize("c_out", [96, 88])
def test_a_large_output_is_streamed_and_still_right(c_out):
    """An output of 8 MiB or more is stored past the caches when its rows are whole vectors (96 channels: 24 MiB);
    88 channels take the ordinary stores. Both match."""
    gen = torch.Generator().manual_seed(4)
    weight, bias = torch.randn(c_out, 16, 1, 1, generator=gen), torch.randn(c_out, generator=gen)
    x = torch.randn(1, 16, 256, 256, generator=gen).contiguous(memory_format=torch.channels_last)
    z = torch.randn(1, c_out, 256, 256, generator=gen).contiguous(memory_format=torch.channels_last)
    fn = CONV_ALGORITHMS["pointwise"].prepare_fused(weight, bias, ConvSpec.from_weight(weight, pads=(0,) * 4), Epilogue("Clip", (0.0, 6.0), True))
    torch.testing.assert_close(fn(x, z), (F.conv2d(x, weight, bias) + z).clamp(0, 6), rtol=1e-5, atol=1e-5)


def test_nchw_input_residual_and_no_bias():
    """An NCHW input and residual are read the same (copied to NHWC first); a missing bias is zero."""
    gen = torch.Generator().manual_seed(1)
    weight = torch.randn(40, 24, 1, 1, generator=gen)
    fn = CONV_ALGORITHMS["pointwise"].prepare_fused(weight, None, ConvSpec.from_weight(weight, pads=(0,) * 4), Epilogue("Relu", (), True))
    x, z = torch.randn(2, 24, 6, 5, generator=gen), torch.randn(2, 40, 6, 5, generator=gen)
    torch.testing.assert_close(fn(x, z), torch.relu(F.conv2d(x, weight) + z), rtol=1e-5, atol=1e-5)


def test_float64_runs_the_fallback():
    gen = torch.Generator().manual_seed(2)
    weight, bias = torch.randn(20, 12, 1, 1, generator=gen, dtype=torch.float64), torch.randn(20, generator=gen, dtype=torch.float64)
    fn = CONV_ALGORITHMS["pointwise"].prepare_fused(weight, bias, ConvSpec.from_weight(weight, pads=(0,) * 4), Epilogue("Clip", (0.0, 6.0)))
    x = torch.randn(1, 12, 4, 4, generator=gen, dtype=torch.float64)
    y = fn(x, None)
    assert y.dtype == torch.float64
    torch.testing.assert_close(y, F.conv2d(x, weight, bias).clamp(0, 6))


def test_an_input_with_other_channels_is_refused():
    """The C loop indexes the input by the weight's channel count: a mismatched input is an error, not a read past it."""
    weight = torch.randn(16, 8, 1, 1)
    fn = CONV_ALGORITHMS["pointwise"].prepare_fused(weight, None, ConvSpec.from_weight(weight, pads=(0,) * 4), None)
    with pytest.raises(ValueError, match=r"^pointwise: the input has 9 channels, the weight expects 8$"):
        fn(torch.randn(1, 9, 4, 4), None)


@pytest.mark.parametrize("name", ["pointwise", "nhwc_direct"])
def test_a_residual_of_another_shape_is_refused(name):
    """The C loops read the residual as the output's shape: another shape is an error, not a read past it."""
    weight = torch.randn(16, 8, 1, 1)
    fn = CONV_ALGORITHMS[name].prepare_fused(weight, None, ConvSpec.from_weight(weight, pads=(0,) * 4), Epilogue("", (), True))
    x = torch.randn(1, 8, 4, 4).contiguous(memory_format=torch.channels_last)
    with pytest.raises(ValueError, match=rf"^{name}: the residual has shape \(1, 16, 4, 3\), the output \(1, 16, 4, 4\)$"):
        fn(x, torch.randn(1, 16, 4, 3))


@pytest.mark.parametrize("name, groups, k", [("pointwise", 1, 1), ("nhwc_direct", 1, 3), ("nhwc_direct", 24, 3), ("nhwc_gemm", 1, 3)])
@pytest.mark.parametrize("activation, params", [("Relu", ()), ("Clip", (0.0, 6.0)), ("", ())])
def test_a_nan_stays_nan_through_the_clamp(name, groups, k, activation, params):
    """A NaN input reaches every output whose window reads it as NaN, as torch's conv and relu/clamp leave it;
    a clamp that compares and selects turns it into the lower bound (a ReLU's 0, or -inf with no clamp at all).
    The others stay finite and match."""
    gen = torch.Generator().manual_seed(5)
    c_in = 24 if groups > 1 else 8  # dense, or depthwise
    weight = torch.randn(24, c_in // groups, k, k, generator=gen)
    bias = torch.randn(24, generator=gen)
    x = torch.randn(1, c_in, 9, 9, generator=gen)
    x[0, :, 4, 4] = float("nan")
    x = x.contiguous(memory_format=torch.channels_last)
    spec = ConvSpec.from_weight(weight, pads=(k // 2,) * 4, groups=groups)
    epilogue = Epilogue(activation, params)
    ref = epilogue.apply(F.conv2d(x.double(), weight.double(), bias.double(), padding=k // 2, groups=groups), None)
    y = CONV_ALGORITHMS[name].prepare_fused(weight, bias, spec, epilogue)(x, None).double()
    assert ref.isnan().sum().item() == 24 * k * k  # every channel of the pixels whose window holds (4, 4)
    assert torch.equal(y.isnan(), ref.isnan())
    torch.testing.assert_close(y.nan_to_num(0.0), ref.nan_to_num(0.0), rtol=1e-5, atol=1e-5)
