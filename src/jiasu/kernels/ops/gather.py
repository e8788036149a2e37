import torch

from ..base import Kernel


class Gather(Kernel):
    """np.take along ``axis``; negative indices count from the end. Constant indices are prepared once."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axis = int(self.attr("axis", 0))
        idx = self.const_input(1)
        self.const_idx = idx.long() if idx is not None else None
        self.const_negative = bool((idx < 0).any()) if idx is not None else True

    def run(self, x, indices):
        axis = self.axis + x.dim() if self.axis < 0 else self.axis
        if self.const_idx is not None:
            idx = self.const_idx
            if self.const_negative:
                idx = torch.where(idx < 0, idx + x.shape[axis], idx)
        else:
            idx = torch.where(indices < 0, indices + x.shape[axis], indices).long()
        if idx.dim() == 0:
            return (torch.select(x, axis, idx),)
        out = torch.index_select(x, axis, idx.reshape(-1))
        return (out.reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1 :]),)
