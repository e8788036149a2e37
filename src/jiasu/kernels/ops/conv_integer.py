import torch
import torch.nn.functional as F

from ..base import Kernel
from ._common import same_pads
from ._quant import centered


class ConvInteger(Kernel):
    """int32 Y = conv(x - x_zero_point, w - w_zero_point) (w_zero_point scalar or per output channel).

    Summed in float64 (exact for int8 data); attributes as Conv's. Padding pads with the zero point, i.e. real 0.
    """

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        read_conv_attributes(self)

    def run(self, x, w, x_zero_point=None, w_zero_point=None):
        n = x.dim() - 2
        out = integer_conv(centered(x, x_zero_point), centered(w, w_zero_point, [-1] + [1] * (n + 1)), self, n)
        return (out.round_().to(torch.int32),)


def read_conv_attributes(k) -> None:
    """Conv's attributes onto kernel ``k`` as :func:`integer_conv` reads them (shared by ConvInteger and QLinearConv)."""
    k.group = int(k.attr("group", 1))
    k.auto_pad = k.attr("auto_pad", "NOTSET")
    k.kernel_shape = k.attr("kernel_shape")
    k.strides = k.attr("strides")
    k.dilations = k.attr("dilations")
    k.pads = k.attr("pads")


def integer_conv(xc, wc, k, n):
    """conv over centered float64 tensors with ONNX Conv attributes read from kernel ``k``."""
    kernel = list(k.kernel_shape or wc.shape[2:])
    strides = list(k.strides or [1] * n)
    dilations = list(k.dilations or [1] * n)
    if k.auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = same_pads(xc.shape[2:], kernel, strides, dilations, k.auto_pad)
    elif k.auto_pad == "VALID":
        pads = [0] * (2 * n)
    else:
        pads = list(k.pads or [0] * (2 * n))
    # F.pad takes (last dim begin, end, ..., first dim begin, end)
    torch_pads = [p for i in reversed(range(n)) for p in (pads[i], pads[i + n])]
    xc = F.pad(xc, torch_pads)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[n]
    return conv(xc, wc, None, strides, 0, dilations, k.group)
