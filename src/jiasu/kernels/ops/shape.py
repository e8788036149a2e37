import torch

from ..base import Kernel


class Shape(Kernel):
    """int64 shape, optionally sliced by start/end (opset 15)."""

    def run(self, x):
        dims = list(x.shape)
        start, end = self.attr("start", 0), self.attr("end")
        dims = dims[start:end] if end is not None else dims[start:]
        return (torch.tensor(dims, dtype=torch.int64, device=x.device),)
