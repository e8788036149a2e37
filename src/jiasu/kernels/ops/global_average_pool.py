import torch

from ..base import Kernel


class GlobalAveragePool(Kernel):
    def run(self, x):
        return (torch.mean(x, dim=tuple(range(2, x.dim())), keepdim=True),)
