import torch

from ..base import Kernel


class Dropout(Kernel):
    """Inference: identity, and an all-true mask if the graph asks for one."""

    def run(self, x, ratio=None, training_mode=None):
        if training_mode is not None and bool(training_mode.item()):
            from ...errors import JiasuError

            raise JiasuError(f"Dropout node {self.node.name!r} was fed training_mode=True; jiasu runs inference only")
        if len(self.node.outputs) > 1 and self.node.outputs[1].name:
            return (x, torch.ones_like(x, dtype=torch.bool))
        return (x,)
