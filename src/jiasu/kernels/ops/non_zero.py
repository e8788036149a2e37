import torch

from ..base import Kernel


class NonZero(Kernel):
    """Indices of the non-zero elements, int64 of shape (rank, count)."""

    def run(self, x):
        if x.dim() == 0:  # as numpy: a scalar is treated as a 1-element vector
            x = x.reshape(1)
        return (torch.nonzero(x).t().contiguous(),)
