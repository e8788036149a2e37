from __future__ import annotations

import torch

from ..base import Kernel
from ._quant import centered, requantize


class QLinearMatMul(Kernel):
    """Quantized MatMul: y = saturate(round((a - a_zp) @ (b - b_zp) * a_scale * b_scale / y_scale) + y_zp).

    b's scale / zero point may be per column. The integer products are summed exactly (float64) and
    requantized with a float32 multiplier, as ONNX Runtime does. The int8 fast path for Gemm/MatMul
    inside a QDQ model is jiasu's QGemm (see passes/lower_int8.py).
    """

    def run(self, a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point):
        acc = torch.matmul(centered(a, a_zero_point), centered(b, b_zero_point))
        mult = a_scale.to(torch.float32) * b_scale.to(torch.float32) / y_scale.to(torch.float32)
        return (requantize(acc, mult, y_zero_point, y_zero_point.dtype if y_zero_point is not None else torch.uint8),)
