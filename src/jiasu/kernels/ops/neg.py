import torch

from ._common import unary


class Neg(unary(torch.neg)):
    pass
