import torch

from ..base import Kernel


class GlobalMaxPool(Kernel):
    def run(self, x):
        return (torch.amax(x, dim=tuple(range(2, x.dim())), keepdim=True),)
