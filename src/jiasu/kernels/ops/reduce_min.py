import torch

from ._reduce import ReduceBase


class ReduceMin(ReduceBase):
    def reduce(self, x, dims, keepdim):
        return torch.amin(x, dim=dims, keepdim=keepdim)
