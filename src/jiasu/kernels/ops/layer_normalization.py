import torch
import torch.nn.functional as F

from ..base import Kernel


class LayerNormalization(Kernel):
    """Normalise over dims [axis, rank); optional Mean and InvStdDev outputs (reduced dims kept as 1).

    Half-precision inputs are computed in float32 (stash_type=1, the default).
    When only Y is wanted and Scale/B have the normalised shape, F.layer_norm does it in one call.
    """

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axis = int(self.attr("axis", -1))
        self.eps = float(self.attr("epsilon", 1e-5))
        self.stash = int(self.attr("stash_type", 1))
        outs = node.outputs
        self.want_stats = any(i < len(outs) and outs[i] is not None and outs[i].name for i in (1, 2))

    def run(self, x, scale, bias=None):
        axis = self.axis + x.dim() if self.axis < 0 else self.axis
        norm_shape = tuple(x.shape[axis:])
        compute = torch.float32 if self.stash == 1 and x.dtype in (torch.float16, torch.bfloat16) else x.dtype
        if (
            not self.want_stats
            and tuple(scale.shape) == norm_shape
            and (bias is None or tuple(bias.shape) == norm_shape)
            and compute == x.dtype
        ):
            return (F.layer_norm(x, norm_shape, scale, bias, self.eps),)
        xc = x.to(compute)
        dims = tuple(range(axis, x.dim()))
        mean = xc.mean(dim=dims, keepdim=True)
        diff = xc - mean
        inv_std = torch.rsqrt((diff * diff).mean(dim=dims, keepdim=True) + self.eps)
        y = diff * inv_std * scale.to(compute)
        if bias is not None:
            y = y + bias.to(compute)
        y = y.to(x.dtype)
        if not self.want_stats:
            return (y,)
        return (y, mean.to(x.dtype), inv_std.to(x.dtype))
