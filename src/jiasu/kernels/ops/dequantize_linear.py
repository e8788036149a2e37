from ..base import Kernel
from ._quant import broadcast_param, dequantize


class DequantizeLinear(Kernel):
    """y = (x - x_zero_point) * x_scale: per tensor, per axis, or blocked (opset 21); float32 out, or the scale's type."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axis = int(self.attr("axis", 1))
        self.block_size = int(self.attr("block_size", 0))

    def run(self, x, scale, zero_point=None):
        if x.is_quantized:  # from one of jiasu's lowered int8 kernels: its scale and zero point are this node's
            x = x.int_repr()
        s = broadcast_param(scale, x, self.axis, self.block_size)
        z = broadcast_param(zero_point, x, self.axis, self.block_size) if zero_point is not None else None
        return (dequantize(x, s, z).to(scale.dtype),)
