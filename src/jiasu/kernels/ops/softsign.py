import torch.nn.functional as F

from ._common import unary


class Softsign(unary(F.softsign)):
    """x / (1 + |x|)."""
