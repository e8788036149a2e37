from __future__ import annotations

import torch

from ..base import Kernel


class LowBitGemm(Kernel):
    """jiasu::LowBitGemm: y = x @ (alpha * T)^T + b with T in {-1, 0, +1} stored bit-packed (see compress/quantize/lowbit.py).

    Inputs: x (float [M, K]), packed (uint8 [N, ceil(K * bits / 8)]), scale ([N]), bias ([N], optional);
    attributes ``kind`` (binary | ternary) and ``weight_shape`` ([N, K]). T is unpacked once, at build
    time, to int8. x is quantized per call to uint8 (its own min/max, as DynamicQuantizeLinear), and
    x_q @ T^T runs on torch's int8 GEMM: with T in {-1, 0, 1} every product is an add, a subtract or
    nothing, and the int32 sum is exact; y = (acc) * x_scale * alpha + b.
    """

    domain = "jiasu"

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        from ...compress.quantize.lowbit import unpack_codes

        n, k = [int(d) for d in self.attr("weight_shape")]
        self.codes_t = unpack_codes(self.const_input(1), self.attr("kind"), k).t().contiguous()  # [K, N] int8
        self.colsum = self.codes_t.sum(0, dtype=torch.int32)
        ctx.choice = f"{self.attr('kind')} weights, int8 GEMM (torch._int_mm)"

    def run(self, x, packed, scale, bias=None):
        flat = x.reshape(-1, x.shape[-1]).to(torch.float32)
        lo, hi = flat.min().clamp(max=0), flat.max().clamp(min=0)
        x_scale = (hi - lo) / 255.0
        x_scale = torch.where(x_scale > 0, x_scale, torch.ones_like(x_scale))
        zp = torch.round(-lo / x_scale).clamp(0, 255)
        xq = torch.round(flat / x_scale).add_(zp).clamp_(0, 255)
        shifted = (xq - 128).to(torch.int8)
        acc = torch._int_mm(shifted, self.codes_t) + (128 - zp.to(torch.int32)) * self.colsum
        y = acc.to(torch.float32) * (x_scale * scale.to(torch.float32))
        if bias is not None:
            y = y + bias
        return (y.reshape(*x.shape[:-1], -1),)
