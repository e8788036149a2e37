"""``im2col``: unfold the input into patch columns, then one GEMM.

Every output pixel of a convolution is a dot product between the filter and the
``C/G x kh x kw`` input patch under it. ``unfold`` copies all patches into a
matrix ``cols`` of shape ``(N, G, C/G*kh*kw, Ho*Wo)`` (stride, dilation and
padding are applied while gathering), and the convolution becomes the batched
matrix product ``W (G, Co/G, C/G*kh*kw) @ cols``, one GEMM per group run as a
single batched matmul. It applies to every 2-D convolution; the price is the
``kh*kw``-fold copy of the input.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .base import ConvAlgorithm, ConvFn, ConvSpec, check_2d, output_size, pad_input


class Im2col(ConvAlgorithm):
    name = "im2col"
    description = "unfold into patch columns + one batched GEMM; applies to every 2-D Conv"

    def check(self, spec: ConvSpec) -> Optional[str]:
        return check_2d(spec)

    def prepare(self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec) -> ConvFn:
        groups = spec.groups
        c_out = spec.out_channels
        (kh, kw), stride, dilation = spec.kernel, spec.stride, spec.dilation
        w = weight.reshape(groups, c_out // groups, -1).contiguous()
        b = bias.reshape(1, c_out, 1) if bias is not None else None
        sym = spec.symmetric_pads
        # A 1x1, stride-1, unpadded conv needs no unfold: the input already is the column matrix.
        pointwise = (kh, kw) == (1, 1) and stride == (1, 1) and sym == (0, 0)

        def run(x: torch.Tensor) -> torch.Tensor:
            n, _, h, wd = x.shape
            if sym is None:
                x = pad_input(x, spec)
                padding = (0, 0)
                h, wd = x.shape[2], x.shape[3]
            else:
                padding = sym
            ho = output_size(h, kh, stride[0], dilation[0], 2 * padding[0])
            wo = output_size(wd, kw, stride[1], dilation[1], 2 * padding[1])
            if pointwise:
                cols = x.reshape(n, groups, -1, h * wd)
            else:
                cols = F.unfold(x, (kh, kw), dilation=dilation, padding=padding, stride=stride)
                cols = cols.view(n, groups, -1, ho * wo)
            # With groups == 1 the weight broadcasts over the batch without a copy.
            y = torch.matmul(w, cols).view(n, c_out, ho * wo)
            if b is not None:
                y += b
            return y.view(n, c_out, ho, wo)

        return run
