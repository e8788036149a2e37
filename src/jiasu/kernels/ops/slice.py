import torch

from ..base import Kernel
from ._common import as_ints


class Slice(Kernel):
    """starts/ends/axes/steps are inputs since opset 10 (attributes before). Negative steps flip."""

    def run(self, x, starts=None, ends=None, axes=None, steps=None):
        if starts is None:  # opset < 10
            starts_l, ends_l = list(self.attr("starts")), list(self.attr("ends"))
            axes_l = list(self.attr("axes", range(len(starts_l))))
            steps_l = [1] * len(starts_l)
        else:
            starts_l, ends_l = as_ints(starts), as_ints(ends)
            axes_l = as_ints(axes) if axes is not None else list(range(len(starts_l)))
            steps_l = as_ints(steps) if steps is not None else [1] * len(starts_l)
        index = [slice(None)] * x.dim()
        flips = []
        for start, end, axis, step in zip(starts_l, ends_l, axes_l, steps_l):
            axis = axis + x.dim() if axis < 0 else axis
            size = x.shape[axis]
            if step > 0:
                start = max(0, min(size, start + size if start < 0 else start))
                end = max(0, min(size, end + size if end < 0 else end))
                index[axis] = slice(start, max(start, end), step)
            else:
                # Walk backwards: clamp to [-1, size-1], then take the forward slice and flip it.
                start = max(-1, min(size - 1, start + size if start < 0 else start))
                end = max(-1, min(size - 1, end + size if end < 0 else end))
                if start <= end:
                    index[axis] = slice(0, 0)
                else:
                    count = (start - end - 1) // (-step) + 1
                    first = start - (count - 1) * (-step)
                    index[axis] = slice(first, start + 1, -step)
                    flips.append(axis)
        out = x[tuple(index)]
        if flips:
            out = torch.flip(out, flips)
        return (out,)
