import math

import torch

from ..base import Kernel


class GatherND(Kernel):
    """Slices data[b..., indices[b..., :]] for every index tuple; the first ``batch_dims`` dims are shared."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.batch_dims = int(self.attr("batch_dims", 0))

    def run(self, data, indices):
        b = self.batch_dims
        k = indices.shape[-1]
        batch = math.prod(data.shape[:b])
        lead = data.shape[b : b + k]
        rest = data.shape[b + k :]
        idx = indices.reshape(batch, -1, k).long()
        idx = torch.where(idx < 0, idx + torch.tensor(lead, device=idx.device), idx)
        strides = torch.tensor([math.prod(lead[j + 1 :]) for j in range(k)], device=idx.device, dtype=torch.long)
        lin = (idx * strides).sum(dim=-1)  # (batch, m)
        src = data.reshape(batch, math.prod(lead), -1)
        out = src[torch.arange(batch, device=data.device)[:, None], lin]
        return (out.reshape(tuple(indices.shape[:-1]) + tuple(rest)),)
