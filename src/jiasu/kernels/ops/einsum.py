import torch

from ..base import Kernel


class Einsum(Kernel):
    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.equation = self.attr("equation").replace(" ", "")

    def run(self, *xs):
        return (torch.einsum(self.equation, *xs),)
