import torch

from ...errors import UnsupportedOpError
from .resize import Resize


class Upsample(Resize):
    """Deprecated (opset 7-9) form of Resize: scales as an attribute (7) or input (9), asymmetric coordinates.

    Nearest picks ``floor(x / scale)``, linear interpolates between the two
    neighbours, as Resize-10 and onnxruntime do.
    """

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        if self.mode == "cubic":
            raise UnsupportedOpError(f"Upsample node {node.name!r}: mode 'cubic' does not exist for Upsample (nearest, linear)")
        self.ctm, self.nearest_mode, self.antialias = "asymmetric", "floor", False
        scales = self.attr("scales")
        self.scales_attr = torch.tensor(scales, dtype=torch.float32) if scales is not None else None
        self.legacy = False
        self.static = self.scales_attr is not None or self.const_input(1) is not None

    def run(self, x, scales=None):
        return super().run(x, None, self.scales_attr if self.scales_attr is not None else scales, None)
