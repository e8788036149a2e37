"""``sparse``: a pruned convolution as a CSR sparse-weight x im2col-columns product.

After unstructured pruning most filter weights are zero. The weight, reshaped
to ``(C_out, C_in*kh*kw)``, is stored in CSR (values, int32 column indices, row
pointers: the bytes :func:`csr_bytes` reports) and multiplied by the unfolded
input columns with ``torch.sparse.mm`` (MKL's sparse BLAS in the CPU wheels),
so only the non-zero weights cost work.

Sparse pays only when the weight is sparse enough and the product big enough,
and where the line falls depends on the shape and the machine. So the choice
is made by measurement, once per input shape: the first call at a new shape
times the sparse product against the dense convolution (``F.conv2d``, what
``direct`` runs) and keeps the faster; a weight denser than
:data:`MAX_DENSITY` never tries sparse (on this machine CSR never beat dense
there). ``choices`` records what was decided per shape.

On block-sparse (BSR) storage: torch's CPU BSR product was 3-10x slower than
CSR at every shape we measured (pruned smallcnn and VGG-sized layers), so CSR it is.
"""

from __future__ import annotations

import time
import warnings
from typing import Callable, Optional

import torch
import torch.nn.functional as F

from .base import ConvAlgorithm, ConvSpec, check_2d, output_size, pad_input

#: Densest weight (fraction non-zero) for which sparse is even tried.
MAX_DENSITY = 0.5


def to_csr(matrix: torch.Tensor) -> torch.Tensor:
    """``matrix`` (2-D) as a CSR tensor with int32 indices (half the index bytes of int64; MKL takes both)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "CSR support is in beta": said once per process, not actionable
        csr = matrix.contiguous().to_sparse_csr()
        return torch.sparse_csr_tensor(
            csr.crow_indices().to(torch.int32), csr.col_indices().to(torch.int32), csr.values(), csr.shape, check_invariants=False
        )


def csr_bytes(csr: torch.Tensor) -> int:
    """Bytes stored by a CSR tensor: values, column indices and row pointers."""
    return sum(t.numel() * t.element_size() for t in (csr.values(), csr.col_indices(), csr.crow_indices()))


def density(weight: torch.Tensor) -> float:
    """Fraction of non-zero entries."""
    return float(torch.count_nonzero(weight)) / max(weight.numel(), 1)


def _median_time(fn: Callable[[], object], repeats: int = 5) -> float:
    fn()  # warm-up: first calls allocate and pick kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def pick_faster(sparse: Callable[[], object], dense: Callable[[], object]) -> tuple[str, float, float]:
    """``("sparse" | "dense", sparse seconds, dense seconds)``, by median time of a few runs each."""
    ts, td = _median_time(sparse), _median_time(dense)
    return ("sparse" if ts < td else "dense"), ts, td


class SparseConvFn:
    """The prepared convolution: CSR weight, dense fallback rebuilt from it only if some shape chooses dense."""

    def __init__(self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec, measure: bool = True) -> None:
        self.spec = spec
        self.shape = tuple(weight.shape)
        self.density = density(weight)
        self.csr = to_csr(weight.reshape(weight.shape[0], -1))
        self.bias = bias
        self.measure = measure
        self.choices: dict[tuple[int, ...], str] = {}
        self._dense: Optional[torch.Tensor] = None
        sym = spec.symmetric_pads
        self._padding = sym if sym is not None else (0, 0)
        self._explicit_pad = sym is None

    @property
    def stored_bytes(self) -> int:
        return csr_bytes(self.csr) + (self.bias.numel() * self.bias.element_size() if self.bias is not None else 0)

    def dense(self, x: torch.Tensor) -> torch.Tensor:
        if self._dense is None:
            self._dense = self.csr.to_dense().reshape(self.shape)
        if self._explicit_pad:
            x = pad_input(x, self.spec)
        # contiguous: torch 2.13 CPU conv2d can crash on some channels_last inputs with a bias.
        return F.conv2d(x.contiguous(), self._dense, self.bias, self.spec.stride, self._padding, self.spec.dilation)

    def sparse(self, x: torch.Tensor) -> torch.Tensor:
        spec = self.spec
        # Pad, then lay the batch out channel-major, (C, N, H, W), so one strided gather gives the
        # columns of every image side by side, (C*kh*kw, N*Ho*Wo): one product for the whole batch
        # and no transpose of the columns (torch's unfold + transpose measured 2-3x slower).
        x = pad_input(x, spec).transpose(0, 1).contiguous()
        c, n, h, w = x.shape
        (kh, kw), (sh, sw), (dh, dw) = spec.kernel, spec.stride, spec.dilation
        ho, wo = output_size(h, kh, sh, dh, 0), output_size(w, kw, sw, dw, 0)
        s_c, s_n, s_h, s_w = x.stride()
        cols = x.as_strided((c, kh, kw, n, ho, wo), (s_c, dh * s_h, dw * s_w, s_n, sh * s_h, sw * s_w))
        y = torch.sparse.mm(self.csr, cols.reshape(c * kh * kw, n * ho * wo))
        if self.bias is not None:
            y += self.bias.view(-1, 1)
        return y.view(-1, n, ho, wo).transpose(0, 1).contiguous()

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        key = tuple(x.shape)
        choice = self.choices.get(key)
        if choice is None:
            if self.density > MAX_DENSITY:
                choice = "dense"
            elif not self.measure:
                choice = "sparse"
            else:
                choice = pick_faster(lambda: self.sparse(x), lambda: self.dense(x))[0]
            self.choices[key] = choice
        return self.sparse(x) if choice == "sparse" else self.dense(x)


class SparseCSR(ConvAlgorithm):
    name = "sparse"
    description = "CSR sparse weight x im2col columns for pruned 2-D convs; sparse or dense chosen per input shape by timing"

    def check(self, spec: ConvSpec) -> Optional[str]:
        if spec.groups != 1:
            return f"grouped convolution (groups={spec.groups})"
        if spec.dtype is not None and spec.dtype != torch.float32:
            return f"element type {spec.dtype}, sparse kernels are float32"
        return check_2d(spec)

    def prepare(self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec, **kwargs) -> SparseConvFn:
        return SparseConvFn(weight, bias, spec, measure=kwargs.get("measure", True))
