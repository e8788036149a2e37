"""``jiasu::SparseGemm``: Gemm whose constant B is pruned, multiplied from CSR.

Same inputs and attributes as ONNX Gemm (``Y = alpha * A' @ B' + beta * C``);
a pruning pass (``jiasu.compress.prune.sparsify``) rewrites a Gemm into it
when B is a constant with enough zeros. ``B'`` (``K x N``) is held transposed in
CSR, ``(N x K)``, and ``Y = (B'^T @ A'^T)^T`` runs on ``torch.sparse.mm``.
Like the sparse convolution (``kernels/conv/sparse.py``), the first run at
each input shape times sparse against dense (the plain Gemm) and keeps the
faster; ``choices`` records the decisions.
"""

from __future__ import annotations

import torch

from ...errors import JiasuError
from ..conv.sparse import MAX_DENSITY, csr_bytes, density, pick_faster, to_csr
from .gemm import Gemm


class SparseGemm(Gemm):
    domain = "jiasu"

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        if self.b is None:
            raise JiasuError(f"{self.describe()}: jiasu::SparseGemm needs a constant B (an initializer), got a run-time input")
        self.density = density(self.b)
        self.csr = to_csr(self.b.t())
        self.stored_bytes = csr_bytes(self.csr)
        self.choices: dict[tuple[int, ...], str] = {}
        #: False: always sparse (tests); the engine leaves it True.
        self.measure = bool(ctx.options.get("measure_sparse", True))

    def _sparse(self, a, c):
        if self.trans_a:
            a = a.t()
        y = torch.sparse.mm(self.csr, a.t()).t()
        if self.alpha != 1.0:
            y = y * self.alpha
        if c is not None:
            y = y + (c * self.beta if self.beta != 1.0 else c)
        return y

    def run(self, a, b, c=None):
        key = tuple(a.shape)
        choice = self.choices.get(key)
        if choice is None:
            if self.density > MAX_DENSITY or not a.dtype == torch.float32:
                choice = "dense"
            elif not self.measure:
                choice = "sparse"
            else:
                choice = pick_faster(lambda: self._sparse(a, c), lambda: super(SparseGemm, self).run(a, b, c))[0]
            self.choices[key] = choice
        if choice == "dense":
            return super().run(a, b, c)
        return (self._sparse(a, c),)
