from ..base import Kernel
from ._common import axes_from


class Unsqueeze(Kernel):
    def run(self, x, axes=None):
        dims = axes_from(self, (x, axes), 1)
        rank = x.dim() + len(dims)
        for d in sorted(d + rank if d < 0 else d for d in dims):
            x = x.unsqueeze(d)
        return (x,)
