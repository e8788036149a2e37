import torch.nn.functional as F

from ..base import Kernel


class Elu(Kernel):
    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.alpha = float(self.attr("alpha", 1.0))

    def run(self, x):
        return (F.elu(x, self.alpha),)
