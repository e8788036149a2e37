import torch

from ..base import Kernel


class Mean(Kernel):
    """Element-wise mean of any number of broadcast inputs."""

    def run(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = torch.add(out, x)
        return (out / len(xs) if len(xs) > 1 else out,)
