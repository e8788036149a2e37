import math

import torch
import torch.nn.functional as F

from ._pool import PoolBase

_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


class AveragePool(PoolBase):
    """Average pooling.

    Symmetric pads torch can take (and no dilation) go straight to torch's pooling.
    Otherwise the input is zero-padded to exactly the extent the output windows
    cover (explicit pads plus what ceil_mode adds at the end), window sums are taken
    (strided views for dilations), and each is divided by its count: cells of the
    input (count_include_pad=0) or of the input plus explicit pads (=1), never the
    ceil_mode extension — as the ONNX reference does. Counts are cached per shape.
    """

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.count_include_pad = bool(self.attr("count_include_pad", 0))
        self.pool = _POOL[self.n]
        self.undilated = all(d == 1 for d in self.dilations)
        self.fixed_pads = self.resolve_pads([]) if self.auto_pad in ("NOTSET", "", "VALID") else None
        self.fast = (
            self.fixed_pads is not None and self.undilated and self.symmetric(self.fixed_pads, self.n, self.kernel) is not None
        )
        self._counts: dict[tuple, torch.Tensor] = {}

    def run(self, x):
        if self.fast:
            sym = self.fixed_pads[: self.n]
            return (self.pool(x, self.kernel, self.strides, sym, ceil_mode=self.ceil_mode, count_include_pad=self.count_include_pad),)
        spatial = list(x.shape[2:])
        pads = self.fixed_pads if self.fixed_pads is not None else self.resolve_pads(spatial)
        out_sizes = self.output_sizes(spatial, pads)
        ends = self._end_pads(spatial, pads, out_sizes)
        total = self._window_sum(self.pad_value_input(x, pads[: self.n] + ends, self.n, 0.0), out_sizes)
        key = (tuple(spatial), tuple(pads), x.dtype, x.device)
        counts = self._counts.get(key)
        if counts is None:
            ones = torch.ones((1, 1, *spatial), dtype=x.dtype, device=x.device)
            if self.count_include_pad:  # explicit pads count, the ceil_mode extension does not
                ones = self.pad_value_input(ones, pads, self.n, 1.0)
                mask = self.pad_value_input(ones, [0] * self.n + [e - p for e, p in zip(ends, pads[self.n :])], self.n, 0.0)
            else:
                mask = self.pad_value_input(ones, pads[: self.n] + ends, self.n, 0.0)
            counts = self._counts[key] = self._window_sum(mask, out_sizes)
        return (total / counts,)

    def _end_pads(self, spatial, pads, out_sizes) -> list[int]:
        """End padding so the input spans exactly the windows of ``out_sizes`` (may be negative: crop)."""
        ends = []
        for i, (size, k, s, d, o) in enumerate(zip(spatial, self.kernel, self.strides, self.dilations, out_sizes)):
            needed = (o - 1) * s + (k - 1) * d + 1
            ends.append(needed - size - pads[i])
        return ends

    def _window_sum(self, t: torch.Tensor, out_sizes: list[int]) -> torch.Tensor:
        if self.undilated:
            return self.pool(t, self.kernel, self.strides, 0, count_include_pad=True) * math.prod(self.kernel)
        for i, (k, s, d, o) in enumerate(zip(self.kernel, self.strides, self.dilations, out_sizes)):
            t = t.unfold(2 + i, (k - 1) * d + 1, s)[..., ::d].narrow(2 + i, 0, o)
        return t.sum(dim=tuple(range(-self.n, 0)))
