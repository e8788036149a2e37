import torch

from ..base import Kernel
from ._common import as_ints


class Split(Kernel):
    """Sizes come from the 'split' attribute (< 13), the input (>= 13), or equal parts (num_outputs, 18+)."""

    def run(self, x, split=None):
        axis = int(self.attr("axis", 0))
        n_out = len(self.node.outputs)
        sizes = self.attr("split")
        if split is not None:
            sizes = as_ints(split)
        if sizes is None:
            length = x.shape[axis]
            chunk = -(-length // n_out)  # ceil: the last part may be smaller (opset 18)
            sizes = [min(chunk, length - i * chunk) for i in range(n_out)]
        return tuple(torch.split(x, list(sizes), dim=axis))
