import torch

from ._common import unary


class Abs(unary(torch.abs)):
    pass
