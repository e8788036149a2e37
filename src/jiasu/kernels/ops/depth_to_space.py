from ..base import Kernel


class DepthToSpace(Kernel):
    """Rearrange channel blocks into b x b spatial blocks; DCR (default) or CRD channel order."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.b = int(self.attr("blocksize"))
        self.crd = self.attr("mode", "DCR") == "CRD"

    def run(self, x):
        n, c, h, w = x.shape
        b = self.b
        if self.crd:
            y = x.reshape(n, c // (b * b), b, b, h, w).permute(0, 1, 4, 2, 5, 3)
        else:
            y = x.reshape(n, b, b, c // (b * b), h, w).permute(0, 3, 4, 1, 5, 2)
        return (y.reshape(n, c // (b * b), h * b, w * b),)
