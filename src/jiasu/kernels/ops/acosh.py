import torch

from ._common import unary


class Acosh(unary(torch.acosh)):
    pass
