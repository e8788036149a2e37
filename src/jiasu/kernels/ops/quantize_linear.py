import torch

from ..base import Kernel, torch_dtype
from ._quant import broadcast_param, quantize


class QuantizeLinear(Kernel):
    """y = saturate(round(x / y_scale) + y_zero_point): per tensor, per axis, or blocked (opset 21).

    The output type is the zero point's, else ``output_dtype`` (opset 21), else uint8.
    """

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axis = int(self.attr("axis", 1))
        self.block_size = int(self.attr("block_size", 0))
        out = self.attr("output_dtype", 0)
        zp_type = node.inputs[2].dtype if self.has_input(2) else None
        self.dtype = torch_dtype(zp_type) if zp_type is not None else torch_dtype(out) if out else torch.uint8

    def run(self, x, scale, zero_point=None):
        s = broadcast_param(scale, x, self.axis, self.block_size)
        z = broadcast_param(zero_point, x, self.axis, self.block_size) if zero_point is not None else None
        return (quantize(x, s, z, self.dtype),)
