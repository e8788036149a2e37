import torch

from ..base import Kernel


class Div(Kernel):
    """Integer division truncates toward zero, as in the ONNX reference (C semantics)."""

    def run(self, a, b):
        if a.dtype.is_floating_point:
            return (torch.div(a, b),)
        return (torch.div(a, b, rounding_mode="trunc"),)
