import torch

from ._reduce import ReduceBase


class ReduceLogSumExp(ReduceBase):
    """Stable form (max-shifted) via torch.logsumexp; an empty set gives -inf."""

    def reduce(self, x, dims, keepdim):
        if not x.dtype.is_floating_point:
            return torch.logsumexp(x.double(), dim=dims, keepdim=keepdim)
        return torch.logsumexp(x, dim=dims, keepdim=keepdim)
