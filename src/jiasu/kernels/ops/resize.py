"""ONNX Resize for nearest and (bi/tri)linear modes, computed separably per axis.

Every axis is resampled with explicit source coordinates from the ONNX
coordinate-transformation formulas, so all transformation modes and nearest
rounding modes are exact rather than approximated by F.interpolate's subset.
"""

import math

import torch

from ...errors import UnsupportedOpError
from ..base import Kernel
from ._common import as_ints


def _source_coords(mode: str, out_size: int, in_size: int, scale: float, device, roi=None) -> torch.Tensor:
    x = torch.arange(out_size, dtype=torch.float64, device=device)
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if out_size > 1 else torch.zeros_like(x)
    if mode == "align_corners":
        return x * (in_size - 1) / (out_size - 1) if out_size > 1 else torch.zeros_like(x)
    if mode == "asymmetric":
        return x / scale
    if mode == "half_pixel_symmetric":
        adj = out_size / (scale * in_size)
        center = in_size / 2
        offset = center * (1 - adj)
        return offset + (x + 0.5) / scale - 0.5
    if mode == "tf_crop_and_resize":
        start, end = roi
        if out_size > 1:
            return start * (in_size - 1) + x * (end - start) * (in_size - 1) / (out_size - 1)
        return torch.full_like(x, 0.5 * (start + end) * (in_size - 1))
    raise UnsupportedOpError(f"Resize: coordinate_transformation_mode {mode!r} is not supported")


def _nearest(coords: torch.Tensor, rule: str) -> torch.Tensor:
    if rule == "floor":
        return torch.floor(coords)
    if rule == "ceil":
        return torch.ceil(coords)
    frac = coords - torch.floor(coords)
    if rule == "round_prefer_ceil":
        return torch.where(frac == 0.5, torch.ceil(coords), torch.round(coords))
    return torch.where(frac == 0.5, torch.floor(coords), torch.round(coords))  # round_prefer_floor


class Resize(Kernel):
    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.mode = self.attr("mode", "nearest")
        if self.mode not in ("nearest", "linear"):
            raise UnsupportedOpError(f"Resize node {node.name!r}: mode {self.mode!r} is not supported (nearest, linear)")
        self.ctm = self.attr("coordinate_transformation_mode", "half_pixel")
        self.nearest_mode = self.attr("nearest_mode", "round_prefer_floor")
        self.extrapolation = float(self.attr("extrapolation_value", 0.0))
        if self.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
            raise UnsupportedOpError(f"Resize node {node.name!r}: keep_aspect_ratio_policy other than 'stretch' is not supported")

    def run(self, x, roi=None, scales=None, sizes=None):
        rank = x.dim()
        axes = self.attr("axes")
        axes = [a + rank if a < 0 else a for a in axes] if axes is not None else list(range(rank))
        if sizes is not None and sizes.numel():
            out_sizes = as_ints(sizes)
            scale_list = [o / x.shape[a] for o, a in zip(out_sizes, axes)]
        else:
            scale_list = [float(s) for s in scales.reshape(-1).tolist()]
            out_sizes = [int(math.floor(x.shape[a] * s)) for a, s in zip(axes, scale_list)]
        roi_list = roi.reshape(-1).tolist() if roi is not None and roi.numel() else None
        out = x
        for i, axis in enumerate(axes):
            in_size, out_size, scale = x.shape[axis], out_sizes[i], scale_list[i]
            if in_size == out_size and self.ctm != "tf_crop_and_resize":
                continue
            axis_roi = (roi_list[i], roi_list[i + len(axes)]) if roi_list else None
            coords = _source_coords(self.ctm, out_size, in_size, scale, x.device, axis_roi)
            out = self._resample(out, axis, coords, in_size)
        return (out,)

    def _resample(self, x, axis, coords, in_size):
        outside = (coords < 0) | (coords > in_size - 1) if self.ctm == "tf_crop_and_resize" else None
        if self.mode == "nearest":
            idx = _nearest(coords, self.nearest_mode).clamp(0, in_size - 1).long()
            y = torch.index_select(x, axis, idx)
        else:
            c = coords.clamp(0, in_size - 1)
            lo = torch.floor(c).long()
            hi = (lo + 1).clamp(max=in_size - 1)
            shape = [1] * x.dim()
            shape[axis] = -1
            frac = (c - lo).to(x.dtype).reshape(shape)
            a, b = torch.index_select(x, axis, lo), torch.index_select(x, axis, hi)
            y = a + (b - a) * frac
        if outside is not None and bool(outside.any()):
            shape = [1] * x.dim()
            shape[axis] = -1
            y = torch.where(outside.reshape(shape), torch.tensor(self.extrapolation, dtype=y.dtype, device=y.device), y)
        return y
