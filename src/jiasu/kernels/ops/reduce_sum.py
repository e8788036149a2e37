import torch

from ._reduce import ReduceBase


class ReduceSum(ReduceBase):
    def reduce(self, x, dims, keepdim):
        return torch.sum(x, dim=dims, keepdim=keepdim)
