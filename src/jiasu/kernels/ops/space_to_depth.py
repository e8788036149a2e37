from ..base import Kernel


class SpaceToDepth(Kernel):
    """Rearrange b x b spatial blocks into channels; DCR (default) or CRD channel order, inverse of DepthToSpace."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.b = int(self.attr("blocksize"))
        self.crd = self.attr("mode", "DCR") == "CRD"

    def run(self, x):
        n, c, h, w = x.shape
        b = self.b
        y = x.reshape(n, c, h // b, b, w // b, b)
        y = y.permute(0, 1, 3, 5, 2, 4) if self.crd else y.permute(0, 3, 5, 1, 2, 4)
        return (y.reshape(n, c * b * b, h // b, w // b),)
