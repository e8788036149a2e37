import torch
import torch.nn.functional as F

from ..base import Kernel

_CONVT = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


class ConvTranspose(Kernel):
    """Transposed convolution via torch; output_shape / asymmetric pads handled by cropping a padding-free result."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.group = int(self.attr("group", 1))
        self.auto_pad = self.attr("auto_pad", "NOTSET")

    def run(self, x, w, b=None):
        n = x.dim() - 2
        kernel = list(self.attr("kernel_shape", list(w.shape[2:])))
        strides = list(self.attr("strides", [1] * n))
        dilations = list(self.attr("dilations", [1] * n))
        out_pad = list(self.attr("output_padding", [0] * n))
        pads = list(self.attr("pads", [0] * (2 * n)))
        output_shape = self.attr("output_shape")
        in_sizes = list(x.shape[2:])
        # Full (unpadded) output size per dim; pads then crop it, as the ONNX spec defines.
        full = [s * (i - 1) + op + ((k - 1) * d + 1) for i, s, k, d, op in zip(in_sizes, strides, kernel, dilations, out_pad)]
        if output_shape is not None or self.auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            target = list(output_shape)[-n:] if output_shape is not None else [i * s for i, s in zip(in_sizes, strides)]
            pads = [0] * (2 * n)
            for d in range(n):
                total = full[d] - target[d]
                if self.auto_pad == "SAME_UPPER" or (output_shape is not None and self.auto_pad != "SAME_LOWER"):
                    pads[d], pads[d + n] = total // 2, total - total // 2
                else:
                    pads[d], pads[d + n] = total - total // 2, total // 2
        elif self.auto_pad == "VALID":
            pads = [0] * (2 * n)
        begin, end = pads[:n], pads[n:]
        if begin == end:
            return (_CONVT[n](x, w, b, strides, begin, out_pad, self.group, dilations),)
        y = _CONVT[n](x, w, b, strides, 0, out_pad, self.group, dilations)
        index = (slice(None), slice(None)) + tuple(slice(bg, y.shape[2 + d] - en) for d, (bg, en) in enumerate(zip(begin, end)))
        return (y[index],)
