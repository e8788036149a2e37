"""ONNX Resize (nearest, linear, cubic; antialias; all coordinate modes), computed separably per axis.

Every resized axis gets a *plan*: for each output position, the input positions
it reads and their weights, built from the ONNX formulas exactly as the ONNX
reference does (source coordinate ``x_ori`` from the coordinate transformation,
taps around ``floor(x_ori)`` with edge clamping, ``exclude_outside``
renormalisation, antialias widening the kernel by 1/scale when downsampling).
Nearest is then one gather along the axis; the other modes gather each of the
``n`` taps and accumulate it times its weight. Plans depend only on sizes/scales/roi and are cached,
so a run with a seen input shape is a few gathers per axis.
"""

from __future__ import annotations

import math
from typing import Optional

import torch

from ...errors import UnsupportedOpError
from ..base import Kernel
from ._common import as_ints

_CTMS = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "half_pixel_symmetric", "tf_crop_and_resize")
_NEAREST = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def _source_coords(ctm: str, out_size: int, in_size: int, scale: float, roi) -> torch.Tensor:
    """``x_ori`` (float64, CPU) for every output position along one axis, as the ONNX reference computes it."""
    y = torch.arange(out_size, dtype=torch.float64)
    out_width = scale * in_size  # the unrounded output length: the formulas use it, not out_size
    if ctm == "half_pixel":
        return (y + 0.5) / scale - 0.5
    if ctm == "pytorch_half_pixel":
        return (y + 0.5) / scale - 0.5 if out_width != 1 else torch.full_like(y, -0.5)
    if ctm == "align_corners":
        return y * (in_size - 1) / (out_width - 1) if out_width != 1 else torch.zeros_like(y)
    if ctm == "asymmetric":
        return y / scale
    if ctm == "half_pixel_symmetric":
        offset = in_size / 2 * (1 - out_size / out_width)
        return offset + (y + 0.5) / scale - 0.5
    # tf_crop_and_resize
    start, end = roi
    if out_width == 1:
        x = torch.full_like(y, (end - start) * (in_size - 1) / 2)
    else:
        x = y * (end - start) * (in_size - 1) / (out_width - 1)
    return x + start * (in_size - 1)


def _cubic(t: torch.Tensor, a: float) -> torch.Tensor:
    t = t.abs()
    inner = ((a + 2) * t - (a + 3)) * t * t + 1
    outer = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return torch.where(t <= 1, inner, torch.where(t < 2, outer, torch.zeros_like(t)))


class _AxisPlan:
    """How one axis is resampled: one index vector (nearest), or one index vector and one weight per tap
    (weights shaped to broadcast along the axis); optional extrapolation mask."""

    __slots__ = ("axis", "indices", "weights", "outside")

    def __init__(self, axis, indices, weights, outside):
        self.axis, self.indices, self.weights, self.outside = axis, indices, weights, outside


class Resize(Kernel):
    """Inputs (X, roi, scales, sizes) since opset 11; (X, scales) in opset 10, which is asymmetric + floor."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.mode = self.attr("mode", "nearest")
        if self.mode not in ("nearest", "linear", "cubic"):
            raise UnsupportedOpError(f"{type(self).__name__} node {node.name!r}: mode {self.mode!r} is not supported (nearest, linear, cubic)")
        legacy = ctx.opset < 11
        self.legacy = legacy
        self.ctm = self.attr("coordinate_transformation_mode", "asymmetric" if legacy else "half_pixel")
        self.nearest_mode = self.attr("nearest_mode", "floor" if legacy else "round_prefer_floor")
        if self.ctm not in _CTMS:
            raise UnsupportedOpError(f"Resize node {node.name!r}: coordinate_transformation_mode {self.ctm!r} is not supported")
        if self.nearest_mode not in _NEAREST:
            raise UnsupportedOpError(f"Resize node {node.name!r}: nearest_mode {self.nearest_mode!r} is not supported")
        self.cubic_a = float(self.attr("cubic_coeff_a", -0.75))
        self.exclude_outside = bool(self.attr("exclude_outside", 0))
        self.antialias = bool(self.attr("antialias", 0)) and self.mode != "nearest"
        self.extrapolation = float(self.attr("extrapolation_value", 0.0))
        self.policy = self.attr("keep_aspect_ratio_policy", "stretch")
        if self.policy not in ("stretch", "not_larger", "not_smaller"):
            raise UnsupportedOpError(f"Resize node {node.name!r}: keep_aspect_ratio_policy {self.policy!r} is not supported")
        self.axes_attr = self.attr("axes")
        # With constant roi/scales/sizes (the usual case) plans are keyed by input shape alone: no per-run sync.
        self.static = all(not self.has_input(i) or self.const_input(i) is not None for i in range(1, len(node.inputs)))
        self._plans: dict[tuple, list[_AxisPlan]] = {}

    # ---- sizes ---------------------------------------------------------------------------
    def _targets(self, shape, roi, scales, sizes):
        """(axes, out sizes, scales, roi pairs) for an input of ``shape``."""
        rank = len(shape)
        axes = [a + rank if a < 0 else a for a in self.axes_attr] if self.axes_attr is not None else list(range(rank))
        if sizes is not None and sizes.numel():
            out = as_ints(sizes)
            scale_list = [o / shape[a] for o, a in zip(out, axes)]
            if self.policy != "stretch":
                pick = min if self.policy == "not_larger" else max
                s = pick(scale_list)
                scale_list = [s] * len(axes)
                out = [int(s * shape[a] + 0.5) for a in axes]
        else:
            scale_list = [float(v) for v in scales.reshape(-1).tolist()]
            out = [int(math.floor(shape[a] * s)) for a, s in zip(axes, scale_list)]
        roi_list = roi.reshape(-1).tolist() if roi is not None and roi.numel() else None
        rois = [(roi_list[i], roi_list[i + len(axes)]) if roi_list else (0.0, 1.0) for i in range(len(axes))]
        return axes, out, scale_list, rois

    def _plan(self, x, roi, scales, sizes) -> list[_AxisPlan]:
        shape = tuple(x.shape)
        key = (shape, x.dtype, x.device) if self.static else (shape, x.dtype, x.device, _key(roi), _key(scales), _key(sizes))
        plan = self._plans.get(key)
        if plan is None:
            plan = []
            weight_dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
            for axis, out_size, scale, axis_roi in zip(*self._targets(shape, roi, scales, sizes)):
                in_size = shape[axis]
                if math.isclose(scale, 1.0) and out_size == in_size and (
                    self.ctm != "tf_crop_and_resize" or (math.isclose(axis_roi[0], 0.0) and math.isclose(axis_roi[1], 1.0))
                ):
                    continue  # identity along this axis
                plan.append(self._axis_plan(axis, len(shape), in_size, out_size, scale, axis_roi, x.device, weight_dtype))
            self._plans[key] = plan
        return plan

    def _axis_plan(self, axis, rank, in_size, out_size, scale, roi, device, weight_dtype) -> _AxisPlan:
        x = _source_coords(self.ctm, out_size, in_size, scale, roi)
        outside = None
        bshape = [1] * rank
        bshape[axis] = -1
        if self.ctm == "tf_crop_and_resize":
            mask = (x < 0) | (x > in_size - 1)
            outside = mask.reshape(bshape).to(device) if bool(mask.any()) else None
        if self.mode == "nearest":
            frac = x - torch.floor(x)
            if self.nearest_mode == "floor":
                idx = torch.floor(x)
            elif self.nearest_mode == "ceil":
                idx = torch.ceil(x)
            elif self.nearest_mode == "round_prefer_ceil":
                idx = torch.where(frac >= 0.5, torch.ceil(x), torch.floor(x))
            else:
                idx = torch.where(frac > 0.5, torch.ceil(x), torch.floor(x))
            idx = idx.clamp(0, in_size - 1).long()
            return _AxisPlan(axis, [idx.to(device)], None, outside)
        # Taps base + i, i in [1 - n/2, n/2], where base = floor(x) (x - 1 when x is an integer) and ratio in (0, 1].
        base = torch.floor(x)
        base = torch.where(base == x, base - 1, base)
        ratio = x - base
        s = min(scale, 1.0) if self.antialias else 1.0
        if self.mode == "linear":
            first = math.floor(-1 / s) + 1
        else:
            first = math.floor(-2 / s) + 1
        offsets = torch.arange(first, 2 - first, dtype=torch.float64)
        t = (offsets[None, :] - ratio[:, None]) * s
        if self.mode == "linear":
            w = (1 - t.abs()).clamp(0, 1)
        else:
            w = _cubic(t, self.cubic_a)
        if self.antialias:
            w = w / w.sum(dim=1, keepdim=True)
        idx = base[:, None] + offsets[None, :]
        if self.exclude_outside:
            w = torch.where((idx < 0) | (idx >= in_size), torch.zeros_like(w), w)
            total = w.sum(dim=1, keepdim=True)
            w = w / torch.where(total == 0, torch.ones_like(total), total)
        idx = idx.clamp(0, in_size - 1).long()
        taps = range(idx.shape[1])
        return _AxisPlan(
            axis,
            [idx[:, j].contiguous().to(device) for j in taps],
            [w[:, j].reshape(bshape).to(device, weight_dtype) for j in taps],
            outside,
        )

    # ---- running -------------------------------------------------------------------------
    def run(self, x, roi=None, scales=None, sizes=None):
        if self.legacy:  # Resize-10: (X, scales)
            roi, scales, sizes = None, roi, None
        plan = self._plan(x, roi, scales, sizes)
        if not plan:
            return (x,)
        out = x
        compute = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
        for p in plan:
            if p.weights is None:
                y = torch.index_select(out, p.axis, p.indices[0])
            else:  # sum over taps of gathered slices times their weights
                src = out if out.dtype == compute else out.to(compute)
                y = torch.index_select(src, p.axis, p.indices[0]) * p.weights[0]
                for index, weight in zip(p.indices[1:], p.weights[1:]):
                    y.addcmul_(torch.index_select(src, p.axis, index), weight)
            if p.outside is not None:
                y = torch.where(p.outside, torch.tensor(self.extrapolation, dtype=y.dtype, device=y.device), y)
            out = y
        if out.dtype != x.dtype:
            if not x.dtype.is_floating_point:  # saturate to the integer type, rounding half to even (as numpy)
                info = torch.iinfo(x.dtype)
                out = torch.round(out).clamp(info.min, info.max)
            out = out.to(x.dtype)
        return (out,)


def _key(t: Optional[torch.Tensor]):
    return None if t is None else tuple(t.reshape(-1).tolist())
