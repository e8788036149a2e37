import torch

from ..base import Kernel


class OneHot(Kernel):
    """values[1] where index == position along the new ``axis`` (negative indices count from depth), else values[0]."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axis = int(self.attr("axis", -1))

    def run(self, indices, depth, values):
        depth = int(depth.reshape(-1)[0])
        idx = indices.long() if indices.dtype.is_floating_point or indices.dtype != torch.long else indices
        idx = torch.where(idx < 0, idx + depth, idx)
        rank = idx.dim() + 1
        axis = self.axis + rank if self.axis < 0 else self.axis
        shape = [1] * rank
        shape[axis] = depth
        positions = torch.arange(depth, device=idx.device).reshape(shape)
        hit = idx.unsqueeze(axis) == positions
        return (torch.where(hit, values[1], values[0]),)
