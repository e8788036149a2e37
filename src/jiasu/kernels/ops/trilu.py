import torch

from ..base import Kernel


class Trilu(Kernel):
    """Upper (default) or lower triangle of the last two dims, shifted by the optional diagonal input k."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.fn = torch.triu if self.attr("upper", 1) else torch.tril
        k = self.const_input(1) if self.has_input(1) else None
        self.k = int(k.reshape(-1)[0]) if k is not None else (None if self.has_input(1) else 0)

    def run(self, x, k=None):
        diagonal = self.k if self.k is not None else int(k.reshape(-1)[0])
        return (self.fn(x, diagonal),)
