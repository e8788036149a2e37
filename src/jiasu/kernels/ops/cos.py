import torch

from ._common import unary


class Cos(unary(torch.cos)):
    pass
