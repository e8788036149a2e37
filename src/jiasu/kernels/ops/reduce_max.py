import torch

from ._reduce import ReduceBase


class ReduceMax(ReduceBase):
    def reduce(self, x, dims, keepdim):
        return torch.amax(x, dim=dims, keepdim=keepdim)
