from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from ..base import Kernel
from .conv import Conv


#: floats gathered at once by the add/sub kernel (64 MB)
GATHER_FLOATS = 16 * 2**20


class AddSubConv:
    """A convolution whose weight is alpha_c * {-1, 0, +1}, computed with additions and subtractions only.

    y[c] = alpha_c * (sum of the inputs under +1 - sum of the inputs under -1) + b_c: the input columns
    (im2col) under each channel's +1 codes are gathered and summed into that channel (``index_add_``), the
    same for -1, and the two sums subtracted; the only multiplications are one alpha per output element,
    none per weight. 2-D, groups 1, symmetric pads (what ``F.unfold`` takes).
    """

    def __init__(self, codes: torch.Tensor, alpha: torch.Tensor, bias: Optional[torch.Tensor], kernel, stride, pads, dilation):
        c, _ = codes.shape
        self.channels = c
        rows, cols = torch.nonzero(codes > 0, as_tuple=True)
        self.pos_owner, self.pos_index = rows, cols
        rows, cols = torch.nonzero(codes < 0, as_tuple=True)
        self.neg_owner, self.neg_index = rows, cols
        self.alpha = alpha.reshape(c, 1).to(torch.float32)
        self.bias = None if bias is None else bias.reshape(c, 1).to(torch.float32)
        self.kernel, self.stride, self.pads, self.dilation = kernel, stride, pads, dilation

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.kernel, self.stride, self.pads, self.dilation
        oh = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
        ow = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
        cols = F.unfold(x.float(), (kh, kw), dilation=(dh, dw), padding=(ph, pw), stride=(sh, sw))  # [N, K, L]
        # [K, N*L]: one row per weight position, so gathering and summing works on whole rows
        cols = cols.transpose(0, 1).reshape(cols.shape[1], -1)
        total = cols.shape[1]
        acc = torch.empty(self.channels, total, dtype=torch.float32)
        # The gathered rows hold (non-zero weights) x (columns) floats: taken a slice of columns at a time,
        # so a large batch never gathers gigabytes.
        step = max(256, GATHER_FLOATS // max(1, len(self.pos_index), len(self.neg_index)))
        for start in range(0, total, step):
            part = cols[:, start : start + step]
            pos = torch.zeros(self.channels, part.shape[1]).index_add_(0, self.pos_owner, part.index_select(0, self.pos_index))
            neg = torch.zeros_like(pos).index_add_(0, self.neg_owner, part.index_select(0, self.neg_index))
            torch.sub(pos, neg, out=acc[:, start : start + step])
        y = acc * self.alpha
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(self.channels, n, oh * ow).transpose(0, 1).reshape(n, self.channels, oh, ow)


class LowBitConv(Kernel):
    """jiasu::LowBitConv: Conv with a bit-packed alpha_c * {-1, (0,) +1} weight (see compress/quantize/lowbit.py).

    Inputs: x, packed (uint8 [C_out, ceil(C_in/g * kh * kw * bits / 8)]), scale ([C_out]), bias (optional);
    attributes: Conv's plus ``kind`` and ``weight_shape``. Two ways to run it:

    - ``float``: the weight unpacked once, at build time, to float, run as a float Conv (the algorithm
      choice included); saves storage (1/32 or 1/16 of float32), not time;
    - ``addsub``: :class:`AddSubConv`, no multiplication per weight (2-D, groups 1, symmetric pads only).

    ``mode`` (a class attribute, or set per instance): "float" (the default), "addsub", or "measure":
    both timed on the first call at each input shape, the faster kept, ``choices`` recording both times.
    "float" is the default because on this CPU add/sub-only accumulation on torch's gather and
    ``index_add_`` ran 4.6-166x slower than the float convolution at every layer measured
    (benchmarks/RESULTS.md), and measuring costs one add/sub call per shape (up to a second).
    """

    domain = "jiasu"
    mode = "float"

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        from ...compress.quantize.lowbit import unpack_codes

        shape = [int(d) for d in self.attr("weight_shape")]
        k = 1
        for d in shape[1:]:
            k *= d
        codes = unpack_codes(self.const_input(1), self.attr("kind"), k)
        alpha = self.const_input(2).reshape(-1)
        weight = (codes.float() * alpha.reshape(-1, 1)).reshape(shape)
        self._conv = Conv.__new__(Conv)
        self._conv.node = node
        self._conv.ctx = ctx
        self._init_conv(node, ctx, weight)
        self._addsub_args = self._addsub_arguments(codes, alpha, shape)
        self._addsub_kernel: Optional[AddSubConv] = None
        self.choices: dict[tuple, dict] = {}

    def _init_conv(self, node, ctx, weight):
        # Conv reads its weight through const_input(1); hand it the unpacked one instead.
        conv = self._conv
        conv.const_input = lambda i: weight if i == 1 else (self.const_input(3) if i == 2 and self.has_input(3) else None)
        conv.has_input = lambda i: i == 2 and self.has_input(3) or i < 2
        Conv.__init__(conv, node, ctx)

    @property
    def _addsub(self) -> Optional[AddSubConv]:
        """The add/sub kernel, built on first use (its index tensors hold 16 bytes per non-zero weight, for a
        path the default mode never runs); None where it does not apply."""
        if self._addsub_kernel is None and self._addsub_args is not None:
            self._addsub_kernel = AddSubConv(*self._addsub_args)
        return self._addsub_kernel

    def _addsub_arguments(self, codes, alpha, shape) -> Optional[tuple]:
        """AddSubConv's arguments, or None where it does not apply (2-D, groups 1, symmetric pads, constant bias)."""
        if len(shape) != 4 or int(self.attr("group", 1)) != 1 or self.attr("auto_pad", "NOTSET") not in ("NOTSET", ""):
            return None
        pads = [int(p) for p in (self.attr("pads") or [0, 0, 0, 0])]
        if pads[:2] != pads[2:]:
            return None
        bias = self.const_input(3) if self.has_input(3) else None
        if self.has_input(3) and bias is None:
            return None
        stride = tuple(int(s) for s in (self.attr("strides") or [1, 1]))
        dilation = tuple(int(d) for d in (self.attr("dilations") or [1, 1]))
        return (codes, alpha, bias, tuple(shape[2:]), stride, tuple(pads[:2]), dilation)

    def _measure(self, x, bias) -> dict:
        """Both ways timed on ``x``; add/sub gets one call, and more only if that one was within 2x of float."""
        import time

        from ...bench.timing import measure

        t_float = measure(lambda: self._float(x, bias), repeats=5, warmup=1).median
        start = time.perf_counter()
        self._addsub(x)
        t_addsub = time.perf_counter() - start
        if t_addsub < 2 * t_float:  # a contender: time it as carefully as float
            t_addsub = measure(lambda: self._addsub(x), repeats=5, warmup=0).median
        return {"choice": "addsub" if t_addsub < t_float else "float", "float_s": t_float, "addsub_s": t_addsub}

    def _float(self, x, bias):
        return self._conv.run(x, None, bias)[0]

    def run(self, x, packed, scale, bias=None):
        mode = self.mode if self._addsub_args is not None else "float"
        if mode == "measure":
            key = tuple(x.shape)
            if key not in self.choices:
                self.choices[key] = self._measure(x, bias)
            mode = self.choices[key]["choice"]
        return (self._addsub(x) if mode == "addsub" else self._float(x, bias),)
