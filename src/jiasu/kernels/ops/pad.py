import torch
import torch.nn.functional as F

from ..base import Kernel
from ._common import as_ints


def _source_index(mode: str, size: int, begin: int, end: int, device) -> torch.Tensor:
    """For each output position along one axis, the input position it copies (numpy's edge/reflect/wrap).

    Negative pads crop first; the positive ones then pad what remains (as onnxruntime does).
    """
    crop_begin, crop_end = max(-begin, 0), max(-end, 0)
    kept = size - crop_begin - crop_end
    p = torch.arange(-max(begin, 0), kept + max(end, 0), device=device)
    if mode == "edge":
        p = p.clamp(0, kept - 1)
    elif mode == "wrap":
        p = torch.remainder(p, kept)
    elif kept == 1:  # reflect on one element
        p = torch.zeros_like(p)
    else:  # reflect: mirror about the first and last element, without repeating them (period 2 * (kept - 1))
        period = 2 * (kept - 1)
        p = torch.remainder(p, period)
        p = torch.where(p >= kept, period - p, p)
    return p + crop_begin


class Pad(Kernel):
    """Pads as input since opset 11 (attribute before); optional axes (18+); negative pads crop.

    ``constant`` goes through F.pad; ``edge``/``reflect``/``wrap`` gather along each
    padded axis with an index map (any rank and dtype), cached per input shape.
    Negative pads crop; the other modes then pad from the data that remains.
    """

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.mode = self.attr("mode", "constant")
        if self.mode not in ("constant", "edge", "reflect", "wrap"):
            from ...errors import UnsupportedOpError

            raise UnsupportedOpError(f"Pad node {node.name!r}: mode {self.mode!r} is not supported (constant, edge, reflect, wrap)")
        self.attr_pads = self.attr("pads")
        self.attr_value = float(self.attr("value", 0.0))
        pads = self.const_input(1)
        self.const_pads = as_ints(pads) if pads is not None else None
        axes = self.const_input(3)
        self.const_axes = as_ints(axes) if axes is not None else None
        value = self.const_input(2) if self.has_input(2) else None
        self.const_fill = value.item() if value is not None and value.numel() else None
        self._index_cache: dict[tuple, torch.Tensor] = {}

    def _full_pads(self, rank: int, pads, axes) -> list[int]:
        if self.const_pads is not None:
            pad_list = self.const_pads
        elif pads is not None:
            pad_list = as_ints(pads)
        else:
            pad_list = list(self.attr_pads)
        if self.const_axes is not None:
            axis_list = self.const_axes
        elif axes is not None:
            axis_list = as_ints(axes)
        else:
            axis_list = list(range(rank))
        axis_list = [a + rank if a < 0 else a for a in axis_list]
        n = len(axis_list)
        full = [0] * (2 * rank)
        for i, axis in enumerate(axis_list):
            full[axis], full[axis + rank] = pad_list[i], pad_list[i + n]
        return full

    def run(self, x, pads=None, value=None, axes=None):
        rank = x.dim()
        full = self._full_pads(rank, pads, axes)
        if self.mode == "constant":
            if self.const_fill is not None:
                fill = self.const_fill
            else:
                fill = value.item() if value is not None and value.numel() else self.attr_value
            if not any(full):
                return (x,)
            torch_pads: list[int] = []
            for d in reversed(range(rank)):
                torch_pads += [full[d], full[d + rank]]
            return (F.pad(x, torch_pads, mode="constant", value=fill),)
        out = x
        for axis in range(rank):
            begin, end = full[axis], full[axis + rank]
            if begin == 0 and end == 0:
                continue
            size = x.shape[axis]
            key = (axis, size, begin, end, x.device)
            index = self._index_cache.get(key)
            if index is None:
                index = self._index_cache[key] = _source_index(self.mode, size, begin, end, x.device)
            out = torch.index_select(out, axis, index)
        return (out,)
