import torch.nn.functional as F

from ..base import Kernel


class LeakyRelu(Kernel):
    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.alpha = float(self.attr("alpha", 0.01))

    def run(self, x):
        return (F.leaky_relu(x, self.alpha),)
