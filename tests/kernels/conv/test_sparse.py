"""The sparse (CSR) convolution against a float64 dense reference, over random shapes and sparsity patterns."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from jiasu.kernels.conv import CONV_ALGORITHMS, ConvSpec
from jiasu.kernels.conv.sparse import MAX_DENSITY, SparseConvFn, csr_bytes, to_csr

TOLERANCE = 1e-5


pytestmark = pytest.mark.usefixtures("one_thread")


def reference(x, w, b, spec):
    top, left, bottom, right = spec.pads
    xp = F.pad(x.double(), (left, right, top, bottom))
    return F.conv2d(xp, w.double(), b.double() if b is not None else None, spec.stride, 0, spec.dilation)


def relative_error(y, ref):
    return (y.double() - ref).abs().max().item() / max(ref.abs().max().item(), 1.0)


@st.composite
def sparse_cases(draw):
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pads = draw(st.sampled_from([(0, 0, 0, 0), (1, 1, 1, 1), (2, 1, 0, 3), (1, 2, 1, 2)]))
    c_in, c_out = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    spec = ConvSpec(c_in, c_out, (kh, kw), stride, dilation, pads, 1, torch.float32)
    min_h = max(1, dilation[0] * (kh - 1) + 1 - pads[0] - pads[2])
    min_w = max(1, dilation[1] * (kw - 1) + 1 - pads[1] - pads[3])
    shape = (draw(st.integers(1, 3)), c_in, draw(st.integers(min_h, min_h + 12)), draw(st.integers(min_w, min_w + 12)))
    sparsity = draw(st.sampled_from([0.0, 0.5, 0.9, 0.95, 0.99, 1.0]))
    return spec, shape, sparsity, draw(st.booleans()), draw(st.integers(0, 2**16))


@settings(max_examples=150, deadline=None)
@given(case=sparse_cases())
def test_sparse_path_matches_dense(case):
    spec, shape, sparsity, with_bias, seed = case
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen)
    w = torch.randn(spec.out_channels, spec.in_channels, *spec.kernel, generator=gen)
    w[torch.rand(w.shape, generator=gen) < sparsity] = 0.0  # a random pattern, rows may be empty
    b = torch.randn(spec.out_channels, generator=gen) if with_bias else None
    assert CONV_ALGORITHMS["sparse"].check(spec) is None
    fn = SparseConvFn(w, b, spec, measure=False)
    ref = reference(x, w, b, spec)
    x_before = x.clone()
    for y in (fn.sparse(x), fn.dense(x)):
        assert y.shape == ref.shape and y.dtype == torch.float32
        assert relative_error(y, ref) <= TOLERANCE
    assert torch.equal(x, x_before)


def test_choice_per_input_shape():
    spec = ConvSpec.from_weight(torch.zeros(8, 4, 3, 3), pads=(1, 1, 1, 1))
    w = torch.randn(8, 4, 3, 3)
    dense_fn = CONV_ALGORITHMS["sparse"].prepare(w, None, spec)
    dense_fn(torch.randn(1, 4, 6, 6))
    assert dense_fn.choices == {(1, 4, 6, 6): "dense"}  # density 1.0 > MAX_DENSITY: never tried
    w[torch.rand(w.shape) < 0.9] = 0
    forced = CONV_ALGORITHMS["sparse"].prepare(w, None, spec, measure=False)
    forced(torch.randn(2, 4, 6, 6))
    assert forced.choices == {(2, 4, 6, 6): "sparse"}
    measured = CONV_ALGORITHMS["sparse"].prepare(w, None, spec)
    y = measured(torch.ones(1, 4, 6, 6))
    assert set(measured.choices.values()) <= {"sparse", "dense"} and len(measured.choices) == 1
    assert relative_error(y, reference(torch.ones(1, 4, 6, 6), w, None, spec)) <= TOLERANCE
    assert MAX_DENSITY == 0.5


def test_compressed_bytes():
    w = torch.zeros(6, 10)
    w[0, 1], w[3, 4], w[3, 9] = 1.0, 2.0, 3.0
    csr = to_csr(w)
    assert csr.col_indices().dtype == torch.int32
    assert csr_bytes(csr) == 3 * 4 + 3 * 4 + 7 * 4  # values, column indices, row pointers
    torch.testing.assert_close(csr.to_dense(), w)


@pytest.mark.parametrize(
    "spec, reason",
    [
        (ConvSpec(4, 4, (3, 3), (1, 1), (1, 1), (0,) * 4, 2), "grouped convolution (groups=2)"),
        (ConvSpec(4, 4, (3, 3), (1, 1), (1, 1), (0,) * 4, 1, torch.float64), "element type torch.float64, sparse kernels are float32"),
        (ConvSpec(4, 4, (3, 3, 3), (1,) * 3, (1,) * 3, (0,) * 6, 1), "3-D convolution, not 2-D"),
    ],
)
def test_check_reasons(spec, reason):
    assert CONV_ALGORITHMS["sparse"].check(spec) == reason
