import torch

from ._common import unary


class Acos(unary(torch.acos)):
    pass
