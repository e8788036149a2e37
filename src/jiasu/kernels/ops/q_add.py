from __future__ import annotations

import torch

from ..base import Kernel
from ._quant import as_qtensor, dequantize, quantize


class QAdd(Kernel):
    """jiasu::QAdd: y_q = quantize(dequantize(a_q) + dequantize(b_q)) [with ReLU], all per-tensor uint8.

    Inputs: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point; attribute ``relu``.
    Written by the int8 lowering for the residual adds of a QDQ model; runs torch's quantized add
    (quantized tensors in and out, no float tensor materialised) when the inputs have the same shape, else in float.
    """

    domain = "jiasu"

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.relu = bool(self.attr("relu", 0))
        # inputs 1, 2, 4, 5, 6, 7: the scales and zero points (0 and 3 are the operands, never constant)
        c = [self.const_input(i) for i in (1, 2, 4, 5, 6, 7)]
        self._q = None if any(t is None for t in c) else [float(c[0]), int(c[1]), float(c[2]), int(c[3]), float(c[4]), int(c[5])]

    def run(self, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
        if self._q is not None and a.shape == b.shape:
            s_a, z_a, s_b, z_b, s_y, z_y = self._q
            op = torch.ops.quantized.add_relu if self.relu else torch.ops.quantized.add
            qa = a if a.is_quantized else as_qtensor(a, s_a, z_a)
            qb = b if b.is_quantized else as_qtensor(b, s_b, z_b)
            if qa.is_contiguous(memory_format=torch.channels_last) != qb.is_contiguous(memory_format=torch.channels_last):
                qb = qb.contiguous(memory_format=torch.channels_last if qa.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format)
            return (op(qa, qb, s_y, z_y),)
        a, b = (t.int_repr() if t.is_quantized else t for t in (a, b))
        y = dequantize(a, a_scale, a_zero_point) + dequantize(b, b_scale, b_zero_point)
        if self.relu:
            y = y.clamp_min_(0)
        return (quantize(y, y_scale, y_zero_point, y_zero_point.dtype),)
