import torch
import torch.nn.functional as F

from ..base import Kernel
from ._common import as_ints

_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


class Pad(Kernel):
    """Pads as input since opset 11 (attribute before); optional axes (18+); negative pads crop."""

    def run(self, x, pads=None, value=None, axes=None):
        mode = self.attr("mode", "constant")
        pad_list = as_ints(pads) if pads is not None else list(self.attr("pads"))
        fill = value.item() if value is not None and value.numel() else float(self.attr("value", 0.0))
        rank = x.dim()
        axis_list = [a + rank if a < 0 else a for a in as_ints(axes)] if axes is not None else list(range(rank))
        n = len(axis_list)
        full = [0] * (2 * rank)
        for i, axis in enumerate(axis_list):
            full[axis], full[axis + rank] = pad_list[i], pad_list[i + n]
        torch_pads: list[int] = []
        for d in reversed(range(rank)):
            torch_pads += [full[d], full[d + rank]]
        while len(torch_pads) > 2 and torch_pads[-1] == 0 and torch_pads[-2] == 0:
            torch_pads = torch_pads[:-2]  # torch's non-constant modes only pad trailing dims
        if mode == "constant":
            return (F.pad(x, torch_pads, mode="constant", value=fill),)
        # reflect/replicate/circular in torch need a batch-like leading dim and float input
        out = F.pad(x.unsqueeze(0).to(torch.float64) if not x.dtype.is_floating_point else x.unsqueeze(0), torch_pads, mode=_MODES[mode])
        return (out.squeeze(0).to(x.dtype),)
