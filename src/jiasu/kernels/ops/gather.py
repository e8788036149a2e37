import torch

from ..base import Kernel


class Gather(Kernel):
    """np.take along ``axis``; negative indices count from the end."""

    def run(self, x, indices):
        axis = int(self.attr("axis", 0))
        axis = axis + x.dim() if axis < 0 else axis
        idx = torch.where(indices < 0, indices + x.shape[axis], indices).long()
        out = torch.index_select(x, axis, idx.reshape(-1))
        return (out.reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1 :]),)
