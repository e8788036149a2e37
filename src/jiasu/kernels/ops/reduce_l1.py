import torch

from ._reduce import ReduceBase


class ReduceL1(ReduceBase):
    def reduce(self, x, dims, keepdim):
        return torch.sum(torch.abs(x), dim=dims, keepdim=keepdim)
