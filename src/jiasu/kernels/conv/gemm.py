"""``gemm``: a convolution as one GEMM on the channels_last (NHWC) rows, with no oneDNN call.

For tiny feature maps the arithmetic of a convolution is a few microseconds and
the call around it is the cost: torch's oneDNN convolution
(``mkldnn::_convolution_pointwise``) spends about 20-25 us per call outside its
kernel on this machine (primitive descriptor, weight descriptor, tensor
wrappers: measured as wall time minus oneDNN's own ``exec`` time), so a 1x1
conv on a 4x4 map took 28 us with oneDNN and 8-14 us as one ``addmm``. This
algorithm keeps activations channels_last, as ``onednn`` does, and per input
size (planned once per size) runs one of three exact forms:

- ``pointwise``: a 1x1 kernel without padding (any stride) is one matmul of the
  ``(N*Ho*Wo, C)`` NHWC rows (a view of a channels_last input at stride 1) with
  the ``(C, Co)`` weight;
- ``dense``: where every output pixel's window covers the whole input (a 3x3
  conv, pad 1, on a 1x1 map; a stride-2 3x3 conv on a 2x2 map), the convolution
  is a fully-connected layer: the weight taps that touch the input, scattered
  once into an ``(H*W*C, Ho*Wo*Co)`` matrix no larger than the weight (taps that
  only ever read padding are dropped: 1/9 of the multiplications for a 3x3 conv
  on a 1x1 map, exactly);
- ``im2col``: otherwise the padded NHWC input is gathered into
  ``(N*Ho*Wo, kh*kw*C)`` columns by one strided copy, then one matmul.

Bias is the matmul's ``beta`` term; the epilogue (activation, residual add)
runs in place on the fresh output. The output is channels_last. groups == 1
only. One at a time it beats oneDNN on the pointwise and dense cases of
resnet18 at 28x28 (see ``jiasu.plan.heuristic``), not on the im2col ones (the
3x3 convs on 7x7..2x2 maps: 54-70 us with oneDNN, 60-119 us here); in the whole
model the gain did not hold at 2 threads, so the heuristic does not choose it
and tuning does, per node, where the whole model measures faster.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .base import ConvSpec, Epilogue, FusedConvFn, FusingConvAlgorithm, check_2d, output_size


def _taps(size: int, out: int, k: int, stride: int, dilation: int, pad_begin: int) -> Optional[list[list[int]]]:
    """Per output position, the kernel tap that reads each input position, if every pair is connected; else None."""
    table = []
    for o in range(out):
        row = []
        for i in range(size):
            t, rem = divmod(i - o * stride + pad_begin, dilation)
            if rem or not 0 <= t < k:
                return None
            row.append(t)
        table.append(row)
    return table


def form(spec: ConvSpec, height: int, width: int) -> str:
    """How :class:`Gemm` computes ``spec`` on an ``height x width`` input: pointwise, dense or im2col."""
    (kh, kw), (sh, sw), (dh, dw) = spec.kernel, spec.stride, spec.dilation
    top, left, bottom, right = spec.pads
    if (kh, kw) == (1, 1) and not any(spec.pads):
        return "pointwise"
    ho = output_size(height, kh, sh, dh, top + bottom)
    wo = output_size(width, kw, sw, dw, left + right)
    if (
        ho > 0
        and wo > 0
        and height * width * ho * wo <= kh * kw
        and _taps(height, ho, kh, sh, dh, top) is not None
        and _taps(width, wo, kw, sw, dw, left) is not None
    ):
        return "dense"
    return "im2col"


class Gemm(FusingConvAlgorithm):
    name = "gemm"
    description = (
        "channels_last GEMM without a oneDNN call: 1x1 convs as one matmul, windows covering a tiny input as one "
        "dense matrix, else NHWC im2col (groups 1)"
    )

    def check(self, spec: ConvSpec) -> Optional[str]:
        reason = check_2d(spec)
        if reason is not None:
            return reason
        if spec.groups != 1:
            return f"groups {spec.groups} != 1"
        if spec.dtype is not None and not spec.dtype.is_floating_point:
            return f"dtype {str(spec.dtype).replace('torch.', '')}, not floating point"
        return None

    def prepare_fused(
        self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec, epilogue: Optional[Epilogue]
    ) -> FusedConvFn:
        epi = None if epilogue is None or epilogue.is_identity else epilogue
        co, ci, kh, kw = (int(d) for d in weight.shape)
        (sh, sw), (dh, dw) = spec.stride, spec.dilation
        top, left, bottom, right = spec.pads
        padded = any(spec.pads)
        # (kh*kw*C, Co): rows in the order an NHWC patch is laid out (kh, kw, c).
        wt = weight.permute(2, 3, 1, 0).reshape(kh * kw * ci, co).contiguous()
        b = bias.contiguous() if bias is not None else None
        plans: dict[tuple[int, int], tuple] = {}

        def plan(h: int, w: int) -> tuple:
            ho = output_size(h, kh, sh, dh, top + bottom)
            wo = output_size(w, kw, sw, dw, left + right)
            kind = form(spec, h, w)
            if kind == "dense":
                rows_h = _taps(h, ho, kh, sh, dh, top)
                rows_w = _taps(w, wo, kw, sw, dw, left)
                m = weight.new_zeros(h, w, ci, ho, wo, co)
                for oh in range(ho):
                    for ih in range(h):
                        for ow in range(wo):
                            for iw in range(w):
                                m[ih, iw, :, oh, ow, :] = weight[:, :, rows_h[oh][ih], rows_w[ow][iw]].t()
                mat = m.reshape(h * w * ci, ho * wo * co)
                bias_row = b.repeat(ho * wo) if b is not None else None
                p = (kind, ho, wo, mat, bias_row)
            else:
                p = (kind, ho, wo, wt, b)
            plans[(h, w)] = p
            return p

        def run(x: torch.Tensor, z: Optional[torch.Tensor] = None) -> torch.Tensor:
            n, _, h, w = x.shape
            kind, ho, wo, mat, bias_row = plans.get((h, w)) or plan(h, w)
            xh = x.permute(0, 2, 3, 1)  # NHWC view: no copy for a channels_last input
            if kind == "pointwise":
                if sh > 1 or sw > 1:
                    xh = xh[:, ::sh, ::sw, :]
                rows = xh.reshape(n * ho * wo, ci)
            elif kind == "dense":
                rows = xh.reshape(n, h * w * ci)
            else:
                xp = (F.pad(xh, (0, 0, left, right, top, bottom)) if padded else xh).contiguous()
                hp, wp = xp.shape[1], xp.shape[2]
                rows = xp.as_strided(
                    (n, ho, wo, kh, kw, ci),
                    (hp * wp * ci, sh * wp * ci, sw * ci, dh * wp * ci, dw * ci, 1),
                    xp.storage_offset(),
                ).reshape(n * ho * wo, kh * kw * ci)
            y = torch.addmm(bias_row, rows, mat) if bias_row is not None else torch.mm(rows, mat)
            y = y.view(n, ho, wo, co).permute(0, 3, 1, 2)
            return epi.apply(y, z) if epi is not None else y

        return run
