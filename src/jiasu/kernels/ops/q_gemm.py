from __future__ import annotations

import torch

from ..base import Kernel
from ._quant import as_qtensor, centered, per_channel_weight, prepacked_is_exact, requantize
from .q_linear_conv import SATURATES


class QGemm(Kernel):
    """jiasu::QGemm: y_q = requantize((x_q - x_zp) @ (w_q - w_zp)^T + b_int32) [with ReLU], x_q uint8 (batch, K).

    Inputs: x, x_scale, x_zero_point, w (int8, [N, K]), w_scale (scalar or [N]), w_zero_point, b (int32 [N] or
    ""), y_scale, y_zero_point. Written by the int8 lowering for DequantizeLinear -> Gemm/MatMul [-> Relu] ->
    QuantizeLinear. With constant parameters (and a weight within +-64 where the CPU has no VNNI, see
    ``prepacked_is_exact``) the weight is prepacked once for torch's int8 linear (fbgemm /
    oneDNN, requantization fused) and the output is a torch quantized tensor (quint8, see QConv); otherwise integer-exact float64 accumulation.
    """

    domain = "jiasu"

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.relu = bool(self.attr("relu", 0))
        consts = [self.const_input(i) if self.has_input(i) else None for i in range(9)]
        x_s, x_z, w, w_s, w_z, b, y_s, y_z = consts[1:9]
        self._packed = None
        saturates = False
        if all(t is not None for t in (x_s, x_z, w, w_s, y_s, y_z)) and (b is not None or not self.has_input(6)):
            usable = w.dtype == torch.int8 and x_z.dtype == torch.uint8 and y_z.dtype == torch.uint8 and (w_z is None or not bool((w_z != 0).any()))
            saturates = usable and not prepacked_is_exact(w)
            if usable and not saturates:
                bias = None if b is None else (b.to(torch.float64) * float(x_s) * w_s.reshape(-1).to(torch.float64)).to(torch.float32)
                self._packed = torch.ops.quantized.linear_prepack(per_channel_weight(w, w_s, w_z, 0), bias)
                self._xq, self._yq = (float(x_s), int(x_z)), (float(y_s), int(y_z))
        if self._packed is not None:
            ctx.choice = "int8 (torch x86 quantized linear)"
        else:
            ctx.choice = "int8 reference (float64 accumulation)" + (SATURATES if saturates else "")

    def run(self, x, x_scale, x_zero_point, w, w_scale, w_zero_point, b, y_scale, y_zero_point):
        if self._packed is not None and x.dtype in (torch.uint8, torch.quint8):
            op = torch.ops.quantized.linear_relu if self.relu else torch.ops.quantized.linear
            return (op(x if x.is_quantized else as_qtensor(x, *self._xq), self._packed, *self._yq),)
        x = x.int_repr() if x.is_quantized else x
        acc = torch.matmul(centered(x, x_zero_point), centered(w, w_zero_point, [-1, 1]).t())
        if b is not None:
            acc = acc + b.to(torch.float64)
        mult = x_scale.to(torch.float32) * w_scale.to(torch.float32).reshape(-1) / y_scale.to(torch.float32)
        return (requantize(acc, mult, y_zero_point, y_zero_point.dtype, self.relu),)
