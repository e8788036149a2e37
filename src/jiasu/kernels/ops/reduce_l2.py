import torch

from ._reduce import ReduceBase


class ReduceL2(ReduceBase):
    """Integer inputs: sqrt of the integer sum of squares, truncated back (as the ONNX reference)."""

    def reduce(self, x, dims, keepdim):
        sq = torch.sum(x * x, dim=dims, keepdim=keepdim)
        return torch.sqrt(sq if x.dtype.is_floating_point else sq.double())
