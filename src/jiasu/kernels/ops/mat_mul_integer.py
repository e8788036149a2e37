import torch

from ..base import Kernel
from ._quant import centered


class MatMulInteger(Kernel):
    """int32 Y = (A - a_zero_point) @ (B - b_zero_point), numpy matmul broadcasting.

    a_zero_point may be per row of A (shape [M]) and b_zero_point per column of B ([N]), as the spec allows.
    Fast path (the dynamic-quantization pattern: uint8 A with a scalar zero point, int8 2-D B with zero
    point 0): torch's int8 GEMM (``torch._int_mm``, VNNI) on A - 128 as int8, corrected by
    (128 - a_zero_point) * column sums of B. Anything else is summed in float64, exact for these ranges.
    """

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        b = self.const_input(1)
        self._colsum = b.sum(0, dtype=torch.int32) if b is not None and b.dim() == 2 and b.dtype == torch.int8 else None

    def run(self, a, b, a_zero_point=None, b_zero_point=None):
        fast = (
            a.dtype == torch.uint8
            and b.dtype == torch.int8
            and b.dim() == 2
            and (a_zero_point is None or a_zero_point.numel() == 1)
            and (b_zero_point is None or not bool((b_zero_point != 0).any()))
        )
        if fast:
            colsum = self._colsum if self._colsum is not None else b.sum(0, dtype=torch.int32)
            flat = a.reshape(-1, a.shape[-1])
            shifted = (flat.to(torch.int16) - 128).to(torch.int8)
            acc = torch._int_mm(shifted, b)
            za = int(a_zero_point.reshape(-1)[0]) if a_zero_point is not None else 0
            if za != 128:
                acc = acc + (128 - za) * colsum
            return (acc.reshape(*a.shape[:-1], b.shape[1]),)
        ac = centered(a, a_zero_point, [-1, 1] if a_zero_point is not None and a_zero_point.dim() else None)
        bc = centered(b, b_zero_point)
        return (torch.matmul(ac, bc).round_().to(torch.int32),)
