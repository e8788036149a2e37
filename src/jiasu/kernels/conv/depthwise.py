"""``depthwise``: per-channel convolution as a sum over kernel taps.

With ``groups == in_channels`` each output channel ``c*M + j`` (``M`` =
``out_channels / in_channels``, the channel multiplier) reads input channel
``c`` only:

    y[n, c, j, i, k] = b[c, j] + sum_{u, v} w[c, j, u, v] * xp[n, c, i*sh + u*dh, k*sw + v*dw]

For a fixed tap ``(u, v)`` the input term is a strided slice of the padded
input, the same for every output pixel, so the whole convolution is ``kh*kw``
fused multiply-adds of that slice with a per-channel weight broadcast over
``N, M, Ho, Wo``. No patch matrix is built and there is no reduction over
channels, which is what makes a GEMM a poor fit here.
"""

from __future__ import annotations

from typing import Optional

import torch

from .base import ConvAlgorithm, ConvFn, ConvSpec, check_2d, output_size, pad_input


class Depthwise(ConvAlgorithm):
    name = "depthwise"
    description = "per-channel multiply-accumulate over kernel taps; groups == in_channels"

    def check(self, spec: ConvSpec) -> Optional[str]:
        reason = check_2d(spec)
        if reason is None and spec.groups != spec.in_channels:
            reason = f"groups {spec.groups} != channels {spec.in_channels}"
        return reason

    def prepare(self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec) -> ConvFn:
        c_in, c_out = spec.in_channels, spec.out_channels
        mult = c_out // c_in
        (kh, kw), (sh, sw), (dh, dw) = spec.kernel, spec.stride, spec.dilation
        # taps[u*kw + v] has shape (1, C, M, 1, 1): broadcasts against a slice viewed as (N, C, 1, Ho, Wo).
        taps = weight.reshape(c_in, mult, kh * kw).permute(2, 0, 1).reshape(kh * kw, 1, c_in, mult, 1, 1).contiguous()
        # Starting the accumulator from the bias folds the bias add into the first tap.
        b = bias.reshape(1, c_in, mult, 1, 1) if bias is not None else None

        def run(x: torch.Tensor) -> torch.Tensor:
            xp = pad_input(x, spec)
            n, _, hp, wp = xp.shape
            ho = output_size(hp, kh, sh, dh, 0)
            wo = output_size(wp, kw, sw, dw, 0)
            xp = xp.unsqueeze(2)
            acc = None
            for u in range(kh):
                rows = slice(u * dh, u * dh + (ho - 1) * sh + 1, sh)
                for v in range(kw):
                    window = xp[:, :, :, rows, v * dw : v * dw + (wo - 1) * sw + 1 : sw]
                    tap = taps[u * kw + v]
                    if acc is not None:
                        acc.addcmul_(window, tap)
                    elif b is not None:
                        acc = torch.addcmul(b, window, tap)
                    else:
                        acc = window * tap
            return acc.view(n, c_out, ho, wo)

        return run
