import torch.nn.functional as F

from ._pool import PoolBase

_POOL = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}


class MaxPool(PoolBase):
    """Max pooling; pads torch cannot take (asymmetric, > k/2) are applied as -inf first."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.want_indices = len(node.outputs) > 1 and node.outputs[1].name != ""
        if self.attr("storage_order", 0):
            from ...errors import UnsupportedOpError

            raise UnsupportedOpError(f"MaxPool node {node.name!r}: storage_order=1 (column-major indices) is not supported")

    def run(self, x):
        pads = self.resolve_pads(list(x.shape[2:]))
        pool = _POOL[self.n]
        sym = self.symmetric(pads, self.n, self.kernel)
        if sym is None:
            x = self.pad_value_input(x, pads, self.n, float("-inf"))
            sym = [0] * self.n
        out = pool(x, self.kernel, self.strides, sym, self.dilations, ceil_mode=self.ceil_mode, return_indices=self.want_indices)
        return tuple(out) if self.want_indices else (out,)
