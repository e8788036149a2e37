import torch

from ._reduce import ReduceBase


class ReduceSumSquare(ReduceBase):
    def reduce(self, x, dims, keepdim):
        return torch.sum(x * x, dim=dims, keepdim=keepdim)
