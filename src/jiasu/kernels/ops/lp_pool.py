import torch

from .average_pool import AveragePool


class LpPool(AveragePool):
    """(sum over each window of |x|^p)^(1/p); padding contributes nothing. Windows as AveragePool's general path."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.p = float(self.attr("p", 2))

    def run(self, x):
        spatial = list(x.shape[2:])
        pads = self.fixed_pads if self.fixed_pads is not None else self.resolve_pads(spatial)
        out_sizes = self.output_sizes(spatial, pads)
        ends = self._end_pads(spatial, pads, out_sizes)
        powered = torch.abs(x) if self.p == 1 else torch.pow(torch.abs(x), self.p)
        total = self._window_sum(self.pad_value_input(powered, pads[: self.n] + ends, self.n, 0.0), out_sizes)
        return (total if self.p == 1 else torch.pow(total, 1.0 / self.p),)
