import torch

from ..base import Kernel


class Dropout(Kernel):
    """Inference: identity, and an all-true mask if the graph asks for one.

    Training mode (a true training_mode input) is refused; the legacy ``is_test``
    attribute (opset < 7) is ignored, as onnxruntime does.
    """

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.want_mask = len(node.outputs) > 1 and node.outputs[1].name != ""
        mode = self.const_input(2) if self.has_input(2) else None
        self.check_mode = self.has_input(2) and (mode is None or bool(mode.item()))
        if mode is not None and bool(mode.item()):
            from ...errors import UnsupportedOpError

            raise UnsupportedOpError(f"Dropout node {node.name!r} is in training mode; jiasu runs inference only")

    def run(self, x, ratio=None, training_mode=None):
        if self.check_mode and training_mode is not None and bool(training_mode.item()):
            from ...errors import JiasuError

            raise JiasuError(f"Dropout node {self.node.name!r} was fed training_mode=True; jiasu runs inference only")
        if self.want_mask:
            return (x, torch.ones_like(x, dtype=torch.bool))
        return (x,)
