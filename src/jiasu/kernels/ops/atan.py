import torch

from ._common import unary


class Atan(unary(torch.atan)):
    pass
