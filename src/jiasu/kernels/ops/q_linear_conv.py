from __future__ import annotations

import torch

from ..base import Kernel
from ._quant import as_qtensor, centered, per_channel_weight, prepacked_is_exact, quantized_engine, requantize
from .conv_integer import integer_conv, read_conv_attributes


#: why an int8 kernel with constant weights runs its slow exact path (see ``prepacked_is_exact``)
SATURATES = ": weights beyond +-64 would saturate torch's int8 kernels on this CPU (no VNNI); quantize with reduce_range"


class QLinearConv(Kernel):
    """Quantized Conv: uint8/int8 x, int8/uint8 w (per tensor or per output channel), int32 bias -> quantized y.

    Fast path (2-D, uint8 x, per-tensor x/y parameters, constant int8 weight with zero point 0, constant
    scales, and a weight within +-64 where the CPU has no VNNI, see ``prepacked_is_exact``): torch's int8
    convolution with the weight prepacked once at build time (fbgemm / oneDNN behind the ``x86`` quantized
    engine: VNNI int8 dot products, requantization fused into the kernel). Anything else: exact integer
    accumulation in float64, then the same float32 requantization.
    ``relu`` (jiasu's lowering sets it, see :class:`jiasu.kernels.ops.q_conv.QConv`) clamps at y's zero point.
    """

    relu = False
    #: jiasu's lowered kernels pass torch quantized tensors between each other (no uint8 copy per node);
    #: the standard ONNX op returns plain uint8 as the spec says.
    quantized_output = False
    #: torch quantized engine to prepack for (None: the current one, x86 by default)
    engine = None

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        read_conv_attributes(self)
        self.relu = bool(self.attr("relu", 0)) or self.relu
        self._saturates = False
        self._packed = self._prepack()
        if self._packed is not None:
            ctx.choice = "int8 (torch x86 quantized conv)"
        else:
            ctx.choice = "int8 reference (float64 accumulation)" + (SATURATES if self._saturates else "")

    def _prepack(self):
        consts = [self.const_input(i) for i in range(9)]
        x_s, x_z, w, w_s, w_z, y_s, y_z = consts[1:8]
        b = self.const_input(8) if self.has_input(8) else None
        if any(t is None for t in (x_s, x_z, w, w_s, y_s, y_z)) or (self.has_input(8) and b is None):
            return None
        if w.dim() != 4 or w.dtype != torch.int8 or x_z.dtype != torch.uint8 or x_s.numel() != 1 or y_s.numel() != 1:
            return None
        if not prepacked_is_exact(w):
            self._saturates = True
            return None
        if w_z is not None and bool((w_z != 0).any()) or self.auto_pad not in ("NOTSET", ""):
            return None
        pads = list(self.pads or [0, 0, 0, 0])
        if pads[:2] != pads[2:]:
            return None  # asymmetric padding: the prepacked kernel pads symmetrically
        bias = None if b is None else b.to(torch.float64) * (float(x_s) * w_s.reshape(-1).to(torch.float64))
        qw = per_channel_weight(w, w_s, w_z, 0)
        engine = self.engine or torch.backends.quantized.engine
        if engine not in ("x86", "fbgemm", "onednn") or engine not in torch.backends.quantized.supported_engines:
            return None
        with quantized_engine(engine):
            packed = torch.ops.quantized.conv2d_prepack(
                qw, None if bias is None else bias.to(torch.float32), list(self.strides or [1, 1]), pads[:2], list(self.dilations or [1, 1]), self.group
            )
        self._xq = (float(x_s), int(x_z))
        self._yq = (float(y_s), int(y_z), y_z.dtype)
        return packed

    def run(self, x, x_scale, x_zero_point, w, w_scale, w_zero_point, y_scale, y_zero_point, b=None):
        if self._packed is not None and (x.dtype in (torch.uint8, torch.quint8)) and self._yq[2] == torch.uint8:
            op = torch.ops.quantized.conv2d_relu if self.relu else torch.ops.quantized.conv2d
            y = op(x if x.is_quantized else as_qtensor(x, *self._xq), self._packed, self._yq[0], self._yq[1])
            return (y if self.quantized_output else y.int_repr(),)
        x = x.int_repr() if x.is_quantized else x
        n = x.dim() - 2
        acc = integer_conv(centered(x, x_zero_point), centered(w, w_zero_point, [-1] + [1] * (n + 1)), self, n)
        if b is not None:
            acc = acc + b.to(torch.float64).reshape([1, -1] + [1] * n)
        mult = (x_scale.to(torch.float32) * w_scale.to(torch.float32) / y_scale.to(torch.float32)).reshape([1, -1] + [1] * n)
        return (requantize(acc, mult, y_zero_point, y_zero_point.dtype if y_zero_point is not None else torch.uint8, self.relu),)
