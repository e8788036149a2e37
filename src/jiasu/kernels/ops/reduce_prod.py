import torch

from ._reduce import ReduceBase


class ReduceProd(ReduceBase):
    def reduce(self, x, dims, keepdim):
        # torch.prod takes one dim at a time
        for d in sorted(dims, reverse=True):
            x = torch.prod(x, dim=d, keepdim=keepdim)
        return x
