import torch
import torch.nn.functional as F

from ..base import Kernel


class LRN(Kernel):
    """Local response normalisation across channels.

    y = x / (bias + alpha / size * sum of x^2 over channels [c - floor((size-1)/2), c + ceil((size-1)/2)]) ** beta.
    (torch's F.local_response_norm centres even windows the other way, so the window sum is done here.)
    """

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.size = int(self.attr("size"))
        self.alpha = float(self.attr("alpha", 1e-4))
        self.beta = float(self.attr("beta", 0.75))
        self.bias = float(self.attr("bias", 1.0))
        self.front = (self.size - 1) // 2
        self.back = self.size - 1 - self.front

    def run(self, x):
        sq = x * x
        channels = x.shape[1]
        pad = [0, 0] * (x.dim() - 2) + [self.front, self.back]
        padded = F.pad(sq, pad)
        total = padded.narrow(1, 0, channels)
        for i in range(1, self.size):
            total = total + padded.narrow(1, i, channels)
        return (x / torch.pow(self.bias + (self.alpha / self.size) * total, self.beta),)
