import math

import torch

from ..base import Kernel

_REDUCE = {"mul": "prod", "max": "amax", "min": "amin"}


class ScatterND(Kernel):
    """Copy of data with slices data[indices[..., :]] replaced (or reduced: add/mul/max/min) by updates."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.reduction = self.attr("reduction", "none")
        if self.reduction not in ("none", "add", "mul", "max", "min"):
            from ...errors import UnsupportedOpError

            raise UnsupportedOpError(f"ScatterND node {node.name!r}: reduction {self.reduction!r} is not supported")

    def run(self, data, indices, updates):
        k = indices.shape[-1]
        lead = data.shape[:k]
        idx = indices.reshape(-1, k).long()
        idx = torch.where(idx < 0, idx + torch.tensor(lead, device=idx.device), idx)
        strides = torch.tensor([math.prod(lead[j + 1 :]) for j in range(k)], device=idx.device, dtype=torch.long)
        lin = (idx * strides).sum(dim=1)
        flat = data.reshape(math.prod(lead), -1).clone()
        upd = updates.reshape(lin.shape[0], -1).to(data.dtype)
        if self.reduction == "none":
            flat[lin] = upd
        elif self.reduction == "add":
            flat.index_add_(0, lin, upd)
        else:
            flat.scatter_reduce_(0, lin[:, None].expand_as(upd), upd, _REDUCE[self.reduction], include_self=True)
        return (flat.reshape(data.shape),)
