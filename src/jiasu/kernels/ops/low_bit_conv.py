from __future__ import annotations

from ..base import Kernel
from .conv import Conv


class LowBitConv(Kernel):
    """jiasu::LowBitConv: Conv with a bit-packed alpha_c * {-1, (0,) +1} weight (see compress/quantize/lowbit.py).

    Inputs: x, packed (uint8 [C_out, ceil(C_in/g * kh * kw * bits / 8)]), scale ([C_out]), bias (optional);
    attributes: Conv's plus ``kind`` and ``weight_shape``. The weight is unpacked once, at build time,
    to float and the convolution runs as a float Conv (the algorithm choice included): this saves
    storage (1/32 or 1/16 of float32), not time.
    """

    domain = "jiasu"

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        from ...compress.quantize.lowbit import unpack_codes

        shape = [int(d) for d in self.attr("weight_shape")]
        k = 1
        for d in shape[1:]:
            k *= d
        codes = unpack_codes(self.const_input(1), self.attr("kind"), k)
        weight = (codes.float() * self.const_input(2).reshape(-1, 1)).reshape(shape)
        self._conv = Conv.__new__(Conv)
        self._conv.node = node
        self._conv.ctx = ctx
        self._init_conv(node, ctx, weight)

    def _init_conv(self, node, ctx, weight):
        # Conv reads its weight through const_input(1); hand it the unpacked one instead.
        conv = self._conv
        conv.const_input = lambda i: weight if i == 1 else (self.const_input(3) if i == 2 and self.has_input(3) else None)
        conv.has_input = lambda i: i == 2 and self.has_input(3) or i < 2
        Conv.__init__(conv, node, ctx)

    def run(self, x, packed, scale, bias=None):
        return self._conv.run(x, None, bias)
