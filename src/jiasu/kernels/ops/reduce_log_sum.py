import torch

from ._reduce import ReduceBase


class ReduceLogSum(ReduceBase):
    def reduce(self, x, dims, keepdim):
        return torch.log(torch.sum(x, dim=dims, keepdim=keepdim))
