"""Conformance of every registered convolution algorithm with ``F.conv2d``.

Each algorithm has a hypothesis strategy that draws only the convolutions it
applies to (asymmetric pads, sizes not divisible by the Winograd tile and tiny
inputs included). The reference is ``F.conv2d`` in float64 on an explicitly
``F.pad``-ed input; the error of a float32 result is ``max |y - ref|`` relative to
the output's magnitude (see :func:`relative_error`) and must stay under ``TOLERANCE``.
The largest errors seen over 4500 examples per algorithm:

    direct, im2col, depthwise   3e-7  (plain float32 dot products)
    fft                         3e-7
    winograd_f2                 3e-7
    winograd (F(4x4))           2.4e-6
    winograd_f6 (F(6x6))        1.1e-5 (3,500 float32 examples)
    winograd_large              6.4e-6 (4x4..7x7 kernels on 8x8 tiles, 1,473 float32 examples)
    nhwc_direct                 9.2e-7 (the C loops: depthwise, and dense on up to 16 input channels; 1,000 specs)
    pointwise                   6.3e-7 (the C matrix product: 1x1, up to 300 input and 80 output channels; 749 float32 specs)

Float64 inputs must match to ``TOLERANCE_F64`` for every algorithm.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from jiasu.errors import JiasuError
from jiasu.kernels.conv import CONV_ALGORITHMS, ConvSpec, Epilogue

TOLERANCE = {
    "direct": 1e-5,
    "onednn": 1e-5,
    "im2col": 1e-5,
    "depthwise": 1e-5,
    "fft": 1e-5,
    "winograd_f2": 1e-5,
    "winograd": 1e-4,
    "winograd_f6": 1e-4,
    "winograd_large": 1e-4,
    "sparse": 1e-5,
    "gemm": 1e-5,
    "nhwc_direct": 1e-5,
    "pointwise": 1e-5,
    "nhwc_gemm": 1e-5,
}
TOLERANCE_F64 = 1e-12


# The tensors here are tiny: a second intra-op thread only adds sync overhead (4x slower on a busy box).
pytestmark = pytest.mark.usefixtures("one_thread")


@dataclass(frozen=True)
class Case:
    spec: ConvSpec
    batch: int
    height: int
    width: int
    dtype: torch.dtype
    bias: bool
    channels_last: bool
    seed: int

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """Input, weight and bias drawn from a standard normal with this case's seed."""
        gen = torch.Generator().manual_seed(self.seed)
        s = self.spec
        x = torch.randn(self.batch, s.in_channels, self.height, self.width, generator=gen, dtype=self.dtype)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        w = torch.randn(s.out_channels, s.in_channels // s.groups, *s.kernel, generator=gen, dtype=self.dtype)
        b = torch.randn(s.out_channels, generator=gen, dtype=self.dtype) if self.bias else None
        return x, w, b


def reference(x: torch.Tensor, w: torch.Tensor, b: Optional[torch.Tensor], spec: ConvSpec) -> torch.Tensor:
    """``F.conv2d`` in float64, the ONNX pads applied explicitly (they may be asymmetric)."""
    top, left, bottom, right = spec.pads
    xp = F.pad(x.double().contiguous(), (left, right, top, bottom))
    bd = b.double() if b is not None else None
    return F.conv2d(xp, w.double(), bd, spec.stride, 0, spec.dilation, spec.groups)


def relative_error(
    y: torch.Tensor, ref: torch.Tensor, x: Optional[torch.Tensor] = None, w: Optional[torch.Tensor] = None
) -> float:
    """``max |y - ref|`` over the output's magnitude ``max |ref|``.

    Given ``x`` and ``w``, the magnitude is at least ``max |x| * max_o ||w_o||_2``, the
    typical size of an output: an output that reads mostly padding can be ~0 (or
    exactly 0) while an FFT's rounding error is spread over all outputs.
    """
    scale = ref.abs().max().item()
    if x is not None and w is not None:
        scale = max(scale, x.abs().max().item() * w.flatten(1).norm(dim=1).max().item())
    return (y.double() - ref).abs().max().item() / scale


def dims(values: st.SearchStrategy[int]) -> st.SearchStrategy[tuple[int, int]]:
    return st.tuples(values, values)


@st.composite
def cases(
    draw,
    *,
    kernel=st.integers(1, 5),
    stride=st.integers(1, 3),
    dilation=st.integers(1, 3),
    channels="grouped",
    multiplier=st.integers(1, 3),
    in_channels=st.integers(1, 8),
    out_channels=st.integers(1, 8),
    padding=st.integers(0, 3),
    channels_last=st.booleans(),
    dtypes=(torch.float32,) * 3 + (torch.float64,),
    exclude_strided_dilated=False,
):
    """A random 2-D convolution and input. ``channels``: ``grouped`` (any groups),
    ``dense`` (groups 1) or ``depthwise`` (groups == in_channels, multiplier 1-3);
    ``channels_last`` draws whether the input is a non-contiguous (NHWC-strided) tensor."""
    kh, kw = draw(dims(kernel))
    sh, sw = draw(dims(stride))
    # oneDNN declines strided dilated convs (a torch 2.13 segfault): draw dilation 1 for those.
    dh, dw = (1, 1) if exclude_strided_dilated and max(sh, sw) > 1 else draw(dims(dilation))
    if draw(st.booleans()):
        ph, pw = draw(dims(padding))
        pads = (ph, pw, ph, pw)
    else:
        pads = draw(st.tuples(*[padding] * 4))
    if channels == "grouped":
        groups = draw(st.integers(1, 3))
        c_in, c_out = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    elif channels == "dense":
        groups, c_in, c_out = 1, draw(in_channels), draw(out_channels)
    else:
        c_in = groups = draw(in_channels)
        c_out = c_in * draw(multiplier)
    # Smallest input with at least one output along each dim.
    min_h = max(1, dh * (kh - 1) + 1 - pads[0] - pads[2])
    min_w = max(1, dw * (kw - 1) + 1 - pads[1] - pads[3])
    spec = ConvSpec(c_in, c_out, (kh, kw), (sh, sw), (dh, dw), pads, groups)
    return Case(
        spec=spec,
        batch=draw(st.integers(1, 3)),
        height=draw(st.integers(min_h, min_h + 14)),
        width=draw(st.integers(min_w, min_w + 14)),
        dtype=draw(st.sampled_from(dtypes)),  # mostly float32
        bias=draw(st.booleans()),
        channels_last=draw(channels_last),
        seed=draw(st.integers(0, 2**16)),
    )


_WINOGRAD = cases(kernel=st.just(3), stride=st.just(1), dilation=st.just(1), channels="dense")
# Square kernels only: each draw picks one size for both dims.
_WINOGRAD_LARGE = st.one_of(*[cases(kernel=st.just(r), stride=st.just(1), dilation=st.just(1), channels="dense") for r in (4, 5, 6, 7)])

STRATEGIES = {
    # torch 2.13's CPU conv2d segfaults on some channels_last inputs with a bias, e.g.
    # x (2, 2, 5, 1), 1x1 kernel, stride 3, padding (0, 2), dilation 3: direct gets NCHW only.
    "direct": cases(channels_last=st.just(False)),
    "onednn": cases(dtypes=(torch.float32,), exclude_strided_dilated=True),
    "im2col": cases(),
    "winograd": _WINOGRAD,
    "winograd_f6": _WINOGRAD,
    "winograd_f2": _WINOGRAD,
    "winograd_large": _WINOGRAD_LARGE,
    "fft": cases(stride=st.just(1)),
    "depthwise": cases(channels="depthwise"),
    "sparse": cases(channels="dense", dtypes=(torch.float32,)),  # random weights: the dense path; tests/kernels/conv/test_sparse.py prunes
    # tiny maps too (1x1 .. 4x4 inputs reach the dense form): tests/kernels/conv/test_gemm.py picks each form on purpose
    "gemm": st.one_of(cases(channels="dense"), cases(channels="dense", kernel=st.integers(1, 3), stride=st.integers(1, 2), dilation=st.just(1))),
    # depthwise with multiplier 1 (up to 40 channels: whole 16-channel vectors and a tail; the 3x3 stride 1/2
    # fast path drawn on purpose) or groups 1 with up to 16 input and 80 output channels (one to five vector
    # blocks, pixel blocks and border pixels); float64 takes the F.conv2d fallback
    "nhwc_direct": st.one_of(
        cases(channels="depthwise", multiplier=st.just(1), in_channels=st.integers(1, 40)),
        cases(channels="depthwise", multiplier=st.just(1), in_channels=st.integers(1, 40), kernel=st.just(3), stride=st.integers(1, 2), dilation=st.just(1)),
        cases(channels="dense", in_channels=st.integers(1, 16), out_channels=st.integers(1, 80)),
    ),
    # up to 80 output channels (a panel of four vectors, then one; channel tails) and up to 675 pixel rows (every
    # block height at a strip's end); float64 takes the F.conv2d fallback
    "pointwise": cases(
        channels="dense", kernel=st.just(1), stride=st.just(1), padding=st.just(0), in_channels=st.integers(1, 300), out_channels=st.integers(1, 80)
    ),
    # any dense conv (kernels, strides, dilations, pads), with up to 300 input channels (patch rows past a
    # block's 128 KiB: blocks of 12 rows) and up to 80 output channels; float64 takes the F.conv2d fallback
    "nhwc_gemm": st.one_of(cases(channels="dense"), cases(channels="dense", in_channels=st.integers(1, 300), out_channels=st.integers(1, 80))),
}


def test_every_registered_algorithm_is_tested():
    """Registering an algorithm without a strategy and a tolerance here fails."""
    assert set(STRATEGIES) == set(CONV_ALGORITHMS)
    assert set(TOLERANCE) == set(CONV_ALGORITHMS)
    assert set(EXAMPLES) == set(CONV_ALGORITHMS)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_matches_conv2d(name, data):
    case = data.draw(STRATEGIES[name], label="case")
    algo = CONV_ALGORITHMS[name]
    assert algo.check(case.spec) is None
    x, w, b = case.tensors()
    x_before = x.clone()
    y = algo.prepare(w, b, case.spec)(x)
    ref = reference(x, w, b, case.spec)
    assert torch.equal(x, x_before), "the algorithm modified its input"
    assert y.shape == ref.shape and y.dtype == x.dtype
    tol = TOLERANCE[name] if case.dtype == torch.float32 else TOLERANCE_F64
    assert relative_error(y, ref, x, w) <= tol


# One applicable, deliberately awkward spec per algorithm and an input size for it.
EXAMPLES = {
    "direct": (ConvSpec(4, 6, (3, 2), (2, 1), (1, 2), (1, 0, 2, 1), 2), (7, 9)),
    "im2col": (ConvSpec(4, 6, (3, 2), (2, 1), (1, 2), (1, 0, 2, 1), 2), (7, 9)),
    "onednn": (ConvSpec(4, 6, (3, 2), (1, 1), (1, 2), (1, 0, 2, 1), 2), (7, 9)),
    "winograd": (ConvSpec(3, 5, (3, 3), (1, 1), (1, 1), (1, 0, 2, 1), 1), (7, 9)),
    "winograd_f6": (ConvSpec(3, 5, (3, 3), (1, 1), (1, 1), (1, 0, 2, 1), 1), (7, 9)),
    "winograd_f2": (ConvSpec(3, 5, (3, 3), (1, 1), (1, 1), (1, 0, 2, 1), 1), (7, 9)),
    "winograd_large": (ConvSpec(3, 5, (5, 5), (1, 1), (1, 1), (2, 0, 1, 2), 1), (9, 11)),
    "fft": (ConvSpec(4, 6, (5, 3), (1, 1), (2, 1), (2, 1, 0, 3), 2), (11, 6)),
    "depthwise": (ConvSpec(4, 8, (3, 3), (2, 2), (1, 1), (1, 1, 0, 0), 4), (9, 8)),
    "sparse": (ConvSpec(4, 6, (3, 2), (2, 1), (1, 2), (1, 0, 2, 1), 1), (7, 9)),
    "gemm": (ConvSpec(4, 6, (3, 2), (2, 1), (1, 2), (1, 0, 2, 1), 1), (7, 9)),
    "nhwc_direct": (ConvSpec(4, 6, (3, 2), (2, 1), (1, 2), (1, 0, 2, 1), 1), (7, 9)),
    "pointwise": (ConvSpec(4, 6, (1, 1), (1, 1), (1, 2), (0, 0, 0, 0), 1), (7, 9)),
    "nhwc_gemm": (ConvSpec(4, 6, (3, 2), (2, 1), (1, 2), (1, 0, 2, 1), 1), (7, 9)),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("with_bias", [False, True])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_shape_and_dtype_like_conv2d(name, with_bias, dtype):
    spec, (h, w) = EXAMPLES[name]
    if CONV_ALGORITHMS[name].check(dataclasses.replace(spec, dtype=dtype)) is not None:
        pytest.skip(f"{name} does not apply to {dtype}")
    case = Case(spec, 1, h, w, dtype, with_bias, channels_last=False, seed=0)
    x, weight, bias = case.tensors()
    y = CONV_ALGORITHMS[name].prepare(weight, bias, spec)(x)
    ref = reference(x, weight, bias, spec).to(dtype)
    assert y.shape == ref.shape
    assert y.dtype == ref.dtype == dtype
    # NCHW or channels_last (Winograd and oneDNN write NHWC memory), never strided views.
    assert y.is_contiguous() or y.is_contiguous(memory_format=torch.channels_last)


def _spec(c_in=64, c_out=64, kernel=(3, 3), stride=(1, 1), dilation=(1, 1), groups=1) -> ConvSpec:
    return ConvSpec(c_in, c_out, kernel, stride, dilation, (1,) * 2 * len(kernel), groups)


_SPEC_3D = _spec(kernel=(3, 3, 3), stride=(1,) * 3, dilation=(1,) * 3)


@pytest.mark.parametrize(
    "name, spec, reason",
    [
        ("im2col", _SPEC_3D, "3-D convolution, not 2-D"),
        ("im2col", _spec(kernel=(3,), stride=(1,), dilation=(1,)), "1-D convolution, not 2-D"),
        ("winograd", _spec(kernel=(7, 7)), "kernel 7x7, not 3x3"),
        ("winograd", _spec(kernel=(3, 1)), "kernel 3x1, not 3x3"),
        ("winograd", _spec(stride=(2, 2)), "stride 2x2, not 1"),
        ("winograd", _spec(dilation=(2, 1)), "dilation 2x1, not 1"),
        ("winograd", _spec(groups=32), "groups 32 != 1"),
        ("winograd", _SPEC_3D, "3-D convolution, not 2-D"),
        ("winograd_f2", _spec(kernel=(5, 5)), "kernel 5x5, not 3x3"),
        ("winograd_f2", _spec(groups=64), "groups 64 != 1"),
        ("winograd_large", _spec(kernel=(3, 3)), "kernel 3x3, not 4x4 or 5x5 or 6x6 or 7x7"),
        ("winograd_large", _spec(kernel=(5, 3)), "kernel 5x3, not 4x4 or 5x5 or 6x6 or 7x7"),
        ("fft", _spec(stride=(2, 2)), "stride 2x2, not 1"),
        ("fft", _spec(stride=(1, 2)), "stride 1x2, not 1"),
        ("fft", _SPEC_3D, "3-D convolution, not 2-D"),
        ("depthwise", _spec(), "groups 1 != channels 64"),
        ("depthwise", _spec(groups=32), "groups 32 != channels 64"),
        ("depthwise", _SPEC_3D, "3-D convolution, not 2-D"),
        ("gemm", _spec(groups=32), "groups 32 != 1"),
        ("gemm", _SPEC_3D, "3-D convolution, not 2-D"),
        ("nhwc_direct", _spec(), "64 input channels, more than 16 (groups 1)"),
        ("nhwc_direct", _spec(c_out=128, groups=64), "groups 64: neither 1 nor depthwise with multiplier 1"),
        ("nhwc_direct", _spec(groups=32), "groups 32: neither 1 nor depthwise with multiplier 1"),
        ("nhwc_direct", _SPEC_3D, "3-D convolution, not 2-D"),
        ("pointwise", _spec(), "kernel 3x3, not 1x1"),
        ("pointwise", _spec(kernel=(1, 1), groups=2), "groups 2, not 1"),
        ("pointwise", _spec(kernel=(1, 1), stride=(2, 2)), "stride 2x2, not 1"),
        ("pointwise", _spec(kernel=(1, 1)), "pads (1, 1, 1, 1), not 0"),
        ("pointwise", _SPEC_3D, "3-D convolution, not 2-D"),
        ("nhwc_gemm", _spec(groups=32), "groups 32, not 1"),
        ("nhwc_gemm", _SPEC_3D, "3-D convolution, not 2-D"),
    ],
)
def test_check_reasons(name, spec, reason):
    assert CONV_ALGORITHMS[name].check(spec) == reason


@pytest.mark.parametrize(
    "name, spec",
    [
        ("im2col", _spec(kernel=(7, 7), stride=(2, 2), dilation=(2, 3), groups=4)),
        ("winograd", _spec()),
        ("winograd_f2", _spec()),
        ("fft", _spec(kernel=(7, 5), dilation=(2, 2), groups=8)),
        ("depthwise", _spec(kernel=(5, 5), stride=(2, 2), groups=64)),
        ("depthwise", _spec(c_out=128, groups=64)),
        ("nhwc_direct", _spec(kernel=(5, 5), stride=(2, 2), groups=64)),
        ("nhwc_direct", _spec(c_in=3, c_out=64, kernel=(7, 7), stride=(2, 2))),
        ("pointwise", ConvSpec(960, 1280, (1, 1), (1, 1), (2, 2), (0, 0, 0, 0))),
        ("nhwc_gemm", _spec(kernel=(7, 5), stride=(2, 3), dilation=(2, 2))),
    ],
)
def test_check_accepts(name, spec):
    assert CONV_ALGORITHMS[name].check(spec) is None


def test_fft_caches_per_input_size():
    """The kernel spectrum is cached per input size: alternating sizes must stay exact."""
    spec = ConvSpec(3, 4, (5, 5), (1, 1), (1, 1), (2, 2, 2, 2), 1)
    gen = torch.Generator().manual_seed(0)
    w, b = torch.randn(4, 3, 5, 5, generator=gen), torch.randn(4, generator=gen)
    fn = CONV_ALGORITHMS["fft"].prepare(w, b, spec)
    for h, wd in [(8, 8), (13, 6), (8, 8), (13, 6)]:
        x = torch.randn(2, 3, h, wd, generator=gen)
        assert relative_error(fn(x), reference(x, w, b, spec), x, w) <= TOLERANCE["fft"]


def test_winograd_error_on_a_realistic_layer():
    """F(4x4) vs F(2x2) on a resnet-like 64->64 3x3 layer, 56x56, normal input, Kaiming weights.

    Measured max error relative to max |y| here (batch 2, seed 0): winograd_f2 2.9e-7,
    winograd 2.3e-6; for scale direct (oneDNN) 1.0e-6, im2col 3.4e-7. See winograd.py
    for other interpolation points.
    """
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 64, 56, 56, generator=gen)
    w = torch.nn.init.kaiming_normal_(torch.empty(64, 64, 3, 3), generator=gen)
    spec = ConvSpec.from_weight(w, pads=(1, 1, 1, 1))
    ref = reference(x, w, None, spec)
    err = {}
    for name in ("winograd", "winograd_f2"):
        err[name] = relative_error(CONV_ALGORITHMS[name].prepare(w, None, spec)(x), ref)
    assert err["winograd_f2"] <= 1e-6
    assert err["winograd"] <= 1e-5
    assert err["winograd_f2"] < err["winograd"]


def test_fft_declines_half_precision():
    spec = ConvSpec(in_channels=4, out_channels=4, kernel=(3, 3), stride=(1, 1), dilation=(1, 1), pads=(1, 1, 1, 1), dtype=torch.float16)
    assert CONV_ALGORITHMS["fft"].check(spec) == "float16, FFT needs float32 or float64"


def test_direct_survives_channels_last_input_with_bias():
    # torch 2.13's CPU conv segfaults on this channels_last input; direct must make it contiguous first
    x = torch.randn(2, 2, 5, 1).contiguous(memory_format=torch.channels_last)
    w, b = torch.randn(1, 2, 1, 1), torch.randn(1)
    spec = ConvSpec.from_weight(w, stride=(3, 3), dilation=(3, 3), pads=(0, 2, 0, 2))
    out = CONV_ALGORITHMS["direct"].prepare(w, b, spec)(x)
    torch.testing.assert_close(out, F.conv2d(x.contiguous(), w, b, stride=3, padding=(0, 2), dilation=3))


_ACTIVATION_PARAMS = {"Clip": (0.0, 6.0), "LeakyRelu": (0.1,)}
_REFERENCE_ACTIVATION = {
    "": lambda y: y,
    "Relu": torch.relu,
    "Clip": lambda y: y.clamp(0.0, 6.0),
    "LeakyRelu": lambda y: F.leaky_relu(y, 0.1),
    "HardSwish": F.hardswish,
    "Sigmoid": torch.sigmoid,
    "Tanh": torch.tanh,
    "Swish": F.silu,
}


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@settings(max_examples=25, deadline=None)
@given(data=st.data(), activation=st.sampled_from(sorted(_REFERENCE_ACTIVATION)), residual=st.booleans())
def test_fused_epilogue_matches_unfused(name, data, activation, residual):
    """``prepare_fused``: act(conv(x) + z) for every activation, with and without the residual add."""
    case = data.draw(STRATEGIES[name], label="case")
    x, w, b = case.tensors()
    ref = reference(x, w, b, case.spec)
    z = torch.randn(ref.shape, dtype=x.dtype, generator=torch.Generator().manual_seed(case.seed)) if residual else None
    epilogue = Epilogue(activation, _ACTIVATION_PARAMS.get(activation, ()), residual)
    z_before = z.clone() if z is not None else None
    y = CONV_ALGORITHMS[name].prepare_fused(w, b, case.spec, epilogue)(x, z)
    expected = _REFERENCE_ACTIVATION[activation](ref + z.double() if z is not None else ref)
    if z is not None:
        assert torch.equal(z, z_before), "the epilogue modified the residual input"
    tol = TOLERANCE[name] if case.dtype == torch.float32 else TOLERANCE_F64
    scale = max(expected.abs().max().item(), x.abs().max().item() * w.flatten(1).norm(dim=1).max().item())
    assert (y.double() - expected).abs().max().item() / scale <= tol


def test_epilogue_rejects_an_unknown_activation():
    with pytest.raises(JiasuError, match=r"^unknown fused activation 'Gelu'; supported: Relu, Clip, LeakyRelu, HardSwish, Sigmoid, Tanh, Swish \(or '' for none\)$"):
        Epilogue("Gelu")
