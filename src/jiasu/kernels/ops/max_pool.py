import math

import torch
import torch.nn.functional as F

from ..conv.base import is_nhwc
from ..native.call import In, NativeCall, Out
from ._pool import PoolBase, pool_library

_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
#: Inputs with at most this many elements take torch's pooling kernel even where the 2x2 maxima apply.
HALVE_MIN_NUMEL = 32768


class MaxPool(PoolBase):
    """Max pooling; pads torch cannot take (asymmetric, > k/2) are applied as -inf first.

    The optional Indices output follows ONNX: flat indices into the whole (unpadded)
    input tensor, ``(n * C + c) * prod(spatial) + offset``, with the spatial offset
    row-major (storage_order=0) or column-major (storage_order=1).
    """

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.want_indices = len(node.outputs) > 1 and node.outputs[1].name != ""
        self.storage_order = int(self.attr("storage_order", 0))
        self.pool = _POOL[self.n]
        self.fixed_pads = self.auto_pad in ("NOTSET", "", "VALID")
        if self.fixed_pads:
            self.fixed_pads = self.resolve_pads([])
            self.fixed_sym = self.symmetric(self.fixed_pads, self.n, self.kernel)
        # 2x2 windows at stride 2 with no padding: three elementwise maxima of strided views
        # beat torch's channels_last pooling kernel 1.7-3.2x here (16 channels, 82x82, batch 1/8),
        # but only above HALVE_MIN_NUMEL elements: their eight views and three calls cost ~12 us,
        # and on smallcnn's 16x26x26 and 48x12x12 maps at batch 1 torch's kernel took 7.0 and 5.5 us
        # against 13.2 and 12.5 (at batch 8, 86k and 55k elements, the maxima still won: 24 vs 44 us).
        self.halve = (
            not self.want_indices and self.n == 2 and list(self.kernel) == [2, 2] and list(self.strides) == [2, 2]
            and list(self.dilations) == [1, 1] and self.fixed_pads is not False and not any(self.fixed_pads)
        )

    def run(self, x):
        if self._native_applies(x):
            return (self._native(x),)
        if self.halve and x.numel() > HALVE_MIN_NUMEL and x.dtype.is_floating_point and x.dim() == 4 and (not self.ceil_mode or (x.shape[2] % 2 == 0 and x.shape[3] % 2 == 0)):
            h, w = x.shape[2] // 2 * 2, x.shape[3] // 2 * 2
            top = torch.maximum(x[:, :, 0:h:2, 0:w:2], x[:, :, 0:h:2, 1:w:2])
            return (torch.maximum(top, torch.maximum(x[:, :, 1:h:2, 0:w:2], x[:, :, 1:h:2, 1:w:2]), out=top),)
        if self.fixed_pads:
            pads, sym = self.fixed_pads, self.fixed_sym
        else:
            pads = self.resolve_pads(list(x.shape[2:]))
            sym = self.symmetric(pads, self.n, self.kernel)
        padded = sym is None
        src = x
        if padded:
            fill = float("-inf") if x.dtype.is_floating_point else torch.iinfo(x.dtype).min
            src = self.pad_value_input(x, pads, self.n, fill)
            sym = [0] * self.n
        if not x.dtype.is_floating_point:  # torch pools floats only; exact for 8/16-bit ints
            out = self.pool(src.to(torch.float64) if x.dtype in (torch.int32, torch.int64) else src.float(), self.kernel,
                            self.strides, sym, self.dilations, ceil_mode=self.ceil_mode, return_indices=self.want_indices)
            out = (out[0].to(x.dtype), out[1]) if self.want_indices else out.to(x.dtype)
        else:
            out = self.pool(src, self.kernel, self.strides, sym, self.dilations, ceil_mode=self.ceil_mode,
                            return_indices=self.want_indices)
        if padded and self.ceil_mode:  # torch lets the last window start in the end pad; ONNX does not
            out = self.crop(out, self.output_sizes(list(x.shape[2:]), pads))
        if not self.want_indices:
            return (out,)
        y, idx = out
        return (y, self._onnx_indices(idx, list(x.shape), list(src.shape), pads if padded else None))

    def _native_applies(self, x) -> bool:
        """Whether the C kernel runs ``x``: 2-D, float32 on the CPU, channels_last (NHWC) memory, no Indices output."""
        return (
            not self.want_indices
            and self.n == 2
            and is_nhwc(x)
            and pool_library() is not None
        )

    def native_call(self, x):
        """The C kernel's call on ``x`` where it runs it (:meth:`_native_applies`)."""
        if not self._native_applies(x):
            return None
        geometry, (ho, wo) = self._native_geometry(x)
        return NativeCall.of(pool_library(), "jiasu_max_pool", (In(0), *geometry, Out(0), ho, wo, torch.get_num_threads()))

    def _native(self, x):
        """Max pooling by ``kernels/native/pool.c`` on the NHWC memory of ``x``; the output is channels_last."""
        n, c = x.shape[:2]
        geometry, (ho, wo) = self._native_geometry(x)
        out = x.new_empty(n, ho, wo, c)
        pool_library().jiasu_max_pool(x.data_ptr(), *geometry, out.data_ptr(), ho, wo, torch.get_num_threads())
        return out.permute(0, 3, 1, 2)

    def _native_geometry(self, x) -> tuple[tuple, tuple[int, int]]:
        """The C kernel's arguments between the input and the output for ``x`` (shape, window, pads), and the output size."""
        n, c, h, w = x.shape
        pads = self.fixed_pads if self.fixed_pads else self.resolve_pads([h, w])
        (kh, kw), (sh, sw), (dh, dw) = self.kernel, self.strides, self.dilations
        return (n, h, w, c, kh, kw, sh, sw, dh, dw, pads[0], pads[1]), tuple(self.output_sizes([h, w], pads))

    def _onnx_indices(self, idx, x_shape, src_shape, pads):
        """torch's per-plane indices (into ``src``) -> ONNX indices into the unpadded input."""
        spatial, src_spatial = x_shape[2:], src_shape[2:]
        if pads is not None or self.storage_order:
            coords = []
            rest = idx
            for size in reversed(src_spatial):  # unravel row-major over the pooled tensor's plane
                coords.append(torch.remainder(rest, size))
                rest = torch.div(rest, size, rounding_mode="floor")
            coords.reverse()
            if pads is not None:
                coords = [c - pads[d] for d, c in enumerate(coords)]
            order = range(self.n) if not self.storage_order else reversed(range(self.n))
            idx = torch.zeros_like(idx)
            for d in order:
                idx = idx * spatial[d] + coords[d]
        plane = math.prod(spatial)
        offsets = torch.arange(x_shape[0] * x_shape[1], device=idx.device, dtype=torch.int64) * plane
        return idx + offsets.reshape(x_shape[0], x_shape[1], *([1] * self.n))
