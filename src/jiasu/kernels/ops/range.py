import torch

from ..base import Kernel


class Range(Kernel):
    def run(self, start, limit, delta):
        return (torch.arange(start.item(), limit.item(), delta.item(), dtype=start.dtype, device=start.device),)
