import torch

from ._reduce import ReduceBase


class ReduceMean(ReduceBase):
    def reduce(self, x, dims, keepdim):
        return torch.mean(x, dim=dims, keepdim=keepdim)
