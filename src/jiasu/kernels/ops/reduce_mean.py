import math

import torch

from ._reduce import ReduceBase


class ReduceMean(ReduceBase):
    """Integer inputs: the sum divided by the count, truncated (as numpy's mean with an integer dtype)."""

    def reduce(self, x, dims, keepdim):
        if x.dtype.is_floating_point:
            return torch.mean(x, dim=dims, keepdim=keepdim)
        count = math.prod(x.shape[d] for d in dims)
        return torch.div(torch.sum(x, dim=dims, keepdim=keepdim), count, rounding_mode="trunc")
