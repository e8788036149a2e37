import torch
import torch.nn.functional as F

from ._pool import PoolBase

_POOL = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


class AveragePool(PoolBase):
    """Average pooling.

    Pads torch cannot take directly are applied explicitly; the divisor then comes
    from pooling a ones-mask the same way, so count_include_pad=0 still excludes
    the padding and windows clipped by ceil_mode are averaged over what they cover.
    """

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.count_include_pad = bool(self.attr("count_include_pad", 0))
        if any(d != 1 for d in self.dilations):
            from ...errors import UnsupportedOpError

            raise UnsupportedOpError(f"AveragePool node {node.name!r}: dilations {self.dilations} are not supported (only 1)")

    def run(self, x):
        pads = self.resolve_pads(list(x.shape[2:]))
        pool = _POOL[self.n]
        sym = self.symmetric(pads, self.n, self.kernel)
        if sym is not None:
            return (pool(x, self.kernel, self.strides, sym, ceil_mode=self.ceil_mode, count_include_pad=self.count_include_pad),)
        padded = self.pad_value_input(x, pads, self.n, 0.0)
        total = pool(padded, self.kernel, self.strides, 0, ceil_mode=self.ceil_mode, count_include_pad=True)
        ones = torch.ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype, device=x.device)
        if self.count_include_pad:
            mask = self.pad_value_input(ones, pads, self.n, 1.0)
        else:
            mask = self.pad_value_input(ones, pads, self.n, 0.0)
        # avg of mask * window size = number of counted cells in each window
        size = 1
        for k in self.kernel:
            size *= k
        counted = pool(mask, self.kernel, self.strides, 0, ceil_mode=self.ceil_mode, count_include_pad=True) * size
        window = pool(torch.ones_like(mask), self.kernel, self.strides, 0, ceil_mode=self.ceil_mode, count_include_pad=True) * size
        # torch's avg with ceil_mode divides clipped windows by the clipped size: undo that, then divide by counted cells.
        return (total * window / counted,)
