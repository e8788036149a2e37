import torch

from ..base import Kernel
from ._common import as_ints


class Split(Kernel):
    """Sizes come from the 'split' attribute (< 13), the input (>= 13), or equal parts (num_outputs, 18+)."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axis = int(self.attr("axis", 0))
        self.n_out = len(node.outputs)
        sizes = self.attr("split")
        const = self.const_input(1) if self.has_input(1) else None
        if const is not None:
            sizes = as_ints(const)
        self.sizes = list(sizes) if sizes is not None else None

    def run(self, x, split=None):
        sizes = self.sizes
        if sizes is None and split is not None:
            sizes = as_ints(split)
        if sizes is None:
            length = x.shape[self.axis]
            chunk = -(-length // self.n_out)  # ceil: the last part may be smaller (opset 18)
            sizes = [min(chunk, length - i * chunk) for i in range(self.n_out)]
        return tuple(torch.split(x, sizes, dim=self.axis))
