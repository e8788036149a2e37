import torch.nn.functional as F

from ._common import unary


class Mish(unary(F.mish)):
    """x * tanh(softplus(x))."""
