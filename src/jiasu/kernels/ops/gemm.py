import torch

from ..base import Kernel


class Gemm(Kernel):
    """Y = alpha * A' @ B' + beta * C, with A' and B' optionally transposed.

    A constant B is transposed once at build time so the run is one addmm.
    """

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.alpha = float(self.attr("alpha", 1.0))
        self.beta = float(self.attr("beta", 1.0))
        self.trans_a = bool(self.attr("transA", 0))
        self.trans_b = bool(self.attr("transB", 0))
        b = self.const_input(1)
        self.b = (b.t() if self.trans_b else b).contiguous() if b is not None else None

    def run(self, a, b, c=None):
        if self.trans_a:
            a = a.t()
        if self.b is not None:
            b = self.b
        elif self.trans_b:
            b = b.t()
        if c is None:
            out = torch.matmul(a, b)
            return (out * self.alpha if self.alpha != 1.0 else out,)
        if c.dtype.is_floating_point and a.dtype.is_floating_point:
            return (torch.addmm(c.expand(a.shape[0], b.shape[1]) if c.dim() else c, a, b, beta=self.beta, alpha=self.alpha),)
        return (self.alpha * torch.matmul(a, b) + self.beta * c,)
