import torch.nn.functional as F

from ..base import Kernel


class InstanceNormalization(Kernel):
    """Per (sample, channel) normalisation over the spatial dims, then scale and bias per channel."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.eps = float(self.attr("epsilon", 1e-5))

    def run(self, x, scale, bias):
        return (F.instance_norm(x, weight=scale, bias=bias, eps=self.eps),)
