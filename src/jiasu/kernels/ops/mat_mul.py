import torch

from ..base import Kernel


class MatMul(Kernel):
    def run(self, a, b):
        return (torch.matmul(a, b),)
