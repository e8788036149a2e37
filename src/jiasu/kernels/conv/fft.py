"""``fft``: convolution as a pointwise product of spectra.

ONNX ``Conv`` is a cross-correlation. For a zero-padded input ``xp`` of size
``Hp x Wp`` and a (dilated) kernel ``w`` of extent ``KH x KW``:

    y[n, o, i, j] = sum_c sum_{u, v} xp[n, c, i + u, j + v] * w[o, c, u, v]

By the correlation theorem, the circular cross-correlation of two signals of
length ``L`` is ``irfft(rfft(x) * conj(rfft(w)))``. For ``L >= Hp`` (resp. ``Wp``)
no term wraps around for the valid outputs ``i < Ho = Hp - KH + 1``, so the
first ``Ho x Wo`` samples of the circular result are the convolution. The sum
over input channels commutes with the transform: at every frequency it is a
``(N x C/G) @ (C/G x Co/G)`` complex matrix product, one batched matmul over
all frequencies and groups.

Dilation is handled by dilating the kernel (zeros between taps) once in
``prepare``. The kernel spectrum depends on the FFT size and thus on the input's
spatial size; it is computed on first use and cached per input ``(H, W)``.
Stride is not supported (a strided conv would discard most of the computed
outputs). Cost is independent of the kernel size, which pays off for large
kernels; the cached spectrum holds ``Co * C/G * L_h * (L_w/2 + 1)`` complex
numbers, which is large for wide layers with big feature maps.
"""

from __future__ import annotations

from typing import Optional

import torch

from .base import ConvAlgorithm, ConvFn, ConvSpec, check_2d, format_dims, pad_input


def fast_fft_length(n: int) -> int:
    """Smallest ``m >= n`` with no prime factor above 7; FFTs of such lengths are fastest."""
    m = n
    while True:
        r = m
        for p in (2, 3, 5, 7):
            while r % p == 0:
                r //= p
        if r == 1:
            return m
        m += 1


class FFT(ConvAlgorithm):
    name = "fft"
    description = "rfft2 of input and kernel, per-frequency channel GEMM, irfft2; stride 1, any kernel"

    def check(self, spec: ConvSpec) -> Optional[str]:
        reason = check_2d(spec)
        if reason is None and spec.stride != (1, 1):
            reason = f"stride {format_dims(spec.stride)}, not 1"
        if reason is None and spec.dtype in (torch.float16, torch.bfloat16):
            # torch's CPU FFT has no half-precision kernels
            reason = f"{str(spec.dtype).replace('torch.', '')}, FFT needs float32 or float64"
        return reason

    def prepare(self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec) -> ConvFn:
        groups = spec.groups
        c_out = spec.out_channels
        c_in_g, c_out_g = spec.in_channels // groups, c_out // groups
        (kh, kw), (dh, dw) = spec.kernel, spec.dilation
        ext_h, ext_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
        if (dh, dw) == (1, 1):
            kernel = weight
        else:
            kernel = weight.new_zeros(c_out, c_in_g, ext_h, ext_w)
            kernel[:, :, ::dh, ::dw] = weight
        b = bias.reshape(1, c_out, 1, 1) if bias is not None else None
        spectra: dict[tuple[int, int], torch.Tensor] = {}

        def kernel_spectrum(lh: int, lw: int) -> torch.Tensor:
            """conj(rfft2(kernel)) laid out (G * freqs, C/G, Co/G) for the per-frequency matmul."""
            k = torch.fft.rfft2(kernel, s=(lh, lw)).conj()
            k = k.reshape(groups, c_out_g, c_in_g, -1).permute(0, 3, 2, 1)
            return k.reshape(-1, c_in_g, c_out_g).contiguous()

        def run(x: torch.Tensor) -> torch.Tensor:
            key = (x.shape[2], x.shape[3])
            xp = pad_input(x, spec)
            n, _, hp, wp = xp.shape
            ho, wo = hp - ext_h + 1, wp - ext_w + 1
            lh, lw = fast_fft_length(hp), fast_fft_length(wp)
            k = spectra.get(key)
            if k is None:
                k = spectra[key] = kernel_spectrum(lh, lw)
            xf = torch.fft.rfft2(xp, s=(lh, lw))
            freqs = xf.shape[2] * xf.shape[3]
            # (N, C, fh, fw) -> (G * freqs, N, C/G): one small channel GEMM per frequency and group.
            xf = xf.reshape(n, groups, c_in_g, freqs).permute(1, 3, 0, 2).reshape(-1, n, c_in_g)
            yf = torch.bmm(xf, k)
            yf = yf.view(groups, freqs, n, c_out_g).permute(2, 0, 3, 1).reshape(n, c_out, lh, lw // 2 + 1)
            y = torch.fft.irfft2(yf, s=(lh, lw))[:, :, :ho, :wo]
            if b is not None:
                return y + b
            return y.contiguous()

        return run
