import torch

from ._common import unary


class Round(unary(torch.round)):
    """Halves round to even, as ONNX specifies (and torch.round does)."""
