from ..base import Kernel
from ._common import axes_from


class Squeeze(Kernel):
    def run(self, x, axes=None):
        dims = axes_from(self, (x, axes), 1)
        if dims is None:
            return (x.squeeze(),)
        dims = sorted(d + x.dim() if d < 0 else d for d in dims)
        return (x.squeeze(tuple(dims)),)
