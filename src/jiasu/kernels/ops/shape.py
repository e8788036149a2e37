import torch

from ..base import Kernel


class Shape(Kernel):
    """int64 shape, optionally sliced by start/end (opset 15)."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.start = int(self.attr("start", 0))
        end = self.attr("end")
        self.end = int(end) if end is not None else None

    def run(self, x):
        dims = list(x.shape)[self.start : self.end]
        return (torch.tensor(dims, dtype=torch.int64, device=x.device),)
