import torch

from ..base import Kernel, torch_dtype


class EyeLike(Kernel):
    """A 2-D tensor shaped like the input with ones on diagonal ``k``; ``dtype`` defaults to the input's."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        dtype = self.attr("dtype")
        self.dtype = torch_dtype(dtype) if dtype is not None else None
        self.k = int(self.attr("k", 0))

    def run(self, x):
        rows, cols = x.shape
        r = torch.arange(rows, device=x.device)[:, None]
        c = torch.arange(cols, device=x.device)[None, :]
        return ((c - r == self.k).to(self.dtype or x.dtype),)
