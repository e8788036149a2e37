import torch.nn.functional as F

from ..base import Kernel

_CONVT = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


class ConvTranspose(Kernel):
    """Transposed convolution via torch.

    The unpadded ("full") output has ``s * (i - 1) + output_padding + (k - 1) * d + 1``
    cells per dim; pads then crop it. With ``output_shape`` or SAME_* auto_pad the
    pads come from the target size: ``total = full - target``, split head/tail as
    the spec says: SAME_UPPER puts ``total // 2`` at the head, SAME_LOWER and
    NOTSET ``total - total // 2``. A negative pad (a target larger than the full
    output) extends it with zeros (plus bias). Symmetric non-negative pads go
    straight to torch.
    """

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.group = int(self.attr("group", 1))
        self.auto_pad = self.attr("auto_pad", "NOTSET")
        self.kernel_attr = self.attr("kernel_shape")
        self.strides_attr = self.attr("strides")
        self.dilations_attr = self.attr("dilations")
        self.out_pad_attr = self.attr("output_padding")
        self.pads_attr = self.attr("pads")
        self.output_shape = self.attr("output_shape")
        self.weight = self.const_input(1)
        self.bias = self.const_input(2) if self.has_input(2) else None

    def _pads(self, n, in_sizes, kernel, strides, dilations, out_pad) -> list[int]:
        if self.output_shape is None and self.auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
            if self.auto_pad == "VALID" or self.pads_attr is None:
                return [0] * (2 * n)
            return list(self.pads_attr)
        full = [s * (i - 1) + op + ((k - 1) * d + 1) for i, s, k, d, op in zip(in_sizes, strides, kernel, dilations, out_pad)]
        if self.output_shape is not None:
            target = list(self.output_shape)[-n:]
        else:
            target = [i * s for i, s in zip(in_sizes, strides)]
        pads = [0] * (2 * n)
        for d in range(n):
            total = full[d] - target[d]
            # SAME_UPPER: smaller half at the head; otherwise the larger (floor division, so a negative total
            # extends at the tail, as the node tests and onnxruntime have it).
            head = total // 2 if self.auto_pad == "SAME_UPPER" else total - total // 2
            pads[d], pads[d + n] = head, total - head
        return pads

    def run(self, x, w, b=None):
        w = self.weight if self.weight is not None else w
        b = self.bias if self.bias is not None else b
        n = x.dim() - 2
        kernel = list(self.kernel_attr) if self.kernel_attr is not None else list(w.shape[2:])
        strides = list(self.strides_attr) if self.strides_attr is not None else [1] * n
        dilations = list(self.dilations_attr) if self.dilations_attr is not None else [1] * n
        out_pad = list(self.out_pad_attr) if self.out_pad_attr is not None else [0] * n
        pads = self._pads(n, list(x.shape[2:]), kernel, strides, dilations, out_pad)
        begin, end = pads[:n], pads[n:]
        convt = _CONVT[n]
        if begin == end and min(begin) >= 0 and all(op < max(s, d) for op, s, d in zip(out_pad, strides, dilations)):
            return (convt(x, w, b, strides, begin, out_pad, self.group, dilations),)
        # Full output without padding; the output padding torch refuses (>= stride and dilation) is added by F.pad.
        torch_out_pad = [op if op < max(s, d) else 0 for op, s, d in zip(out_pad, strides, dilations)]
        y = convt(x, w, None, strides, 0, torch_out_pad, self.group, dilations)
        crop: list[int] = []
        for d in reversed(range(n)):
            crop += [-begin[d], -end[d] + (out_pad[d] - torch_out_pad[d])]
        y = F.pad(y, crop)
        if b is not None:
            y = y + b.reshape((1, -1) + (1,) * n)
        return (y,)
