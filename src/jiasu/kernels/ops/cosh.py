import torch

from ._common import unary


class Cosh(unary(torch.cosh)):
    pass
