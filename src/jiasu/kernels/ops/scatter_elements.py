import torch

from ..base import Kernel

_REDUCE = {"add": "sum", "mul": "prod", "max": "amax", "min": "amin"}


class ScatterElements(Kernel):
    """Copy of data with updates written (or reduced: add/mul/max/min) at indices along ``axis``."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axis = int(self.attr("axis", 0))
        reduction = self.attr("reduction", "none")
        if reduction != "none" and reduction not in _REDUCE:
            from ...errors import UnsupportedOpError

            raise UnsupportedOpError(f"ScatterElements node {node.name!r}: reduction {reduction!r} is not supported")
        self.reduce = _REDUCE.get(reduction)

    def run(self, data, indices, updates):
        axis = self.axis + data.dim() if self.axis < 0 else self.axis
        idx = torch.where(indices < 0, indices + data.shape[axis], indices).long()
        if self.reduce is None:
            return (torch.scatter(data, axis, idx, updates),)
        return (torch.scatter_reduce(data, axis, idx, updates, self.reduce, include_self=True),)
