from ..base import Kernel


class Transpose(Kernel):
    """Permute dims by ``perm`` (default: reversed)."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        perm = self.attr("perm")
        self.perm = [int(p) for p in perm] if perm is not None else None

    def run(self, x):
        perm = self.perm if self.perm is not None else list(reversed(range(x.dim())))
        return (x.permute(*perm),)
