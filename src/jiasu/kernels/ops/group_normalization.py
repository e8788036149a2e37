import torch
import torch.nn.functional as F

from ..base import Kernel


class GroupNormalization(Kernel):
    """Normalise over (channels of a group, spatial dims). Scale/bias are per channel (opset 21) or per group (18)."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.groups = int(self.attr("num_groups"))
        self.eps = float(self.attr("epsilon", 1e-5))

    def run(self, x, scale, bias):
        channels = x.shape[1]
        if scale.numel() != channels:  # opset 18: one value per group
            scale = scale.repeat_interleave(channels // self.groups)
            bias = bias.repeat_interleave(channels // self.groups)
        if x.dtype in (torch.float16, torch.bfloat16):
            return (F.group_norm(x.float(), self.groups, scale.float(), bias.float(), self.eps).to(x.dtype),)
        return (F.group_norm(x, self.groups, scale, bias, self.eps),)
