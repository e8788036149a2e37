import torch

from ..base import Kernel


class RMSNormalization(Kernel):
    """x / sqrt(mean(x^2 over dims [axis, rank)) + eps) * scale (opset 23); half precision computed in float32."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axis = int(self.attr("axis", -1))
        self.eps = float(self.attr("epsilon", 1e-5))
        self.stash = int(self.attr("stash_type", 1))

    def run(self, x, scale):
        axis = self.axis + x.dim() if self.axis < 0 else self.axis
        compute = torch.float32 if self.stash == 1 and x.dtype in (torch.float16, torch.bfloat16) else x.dtype
        xc = x.to(compute)
        dims = tuple(range(axis, x.dim()))
        y = xc * torch.rsqrt((xc * xc).mean(dim=dims, keepdim=True) + self.eps) * scale.to(compute)
        return (y.to(x.dtype),)
