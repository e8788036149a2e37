import torch

from ._common import unary


class Exp(unary(torch.exp)):
    pass
