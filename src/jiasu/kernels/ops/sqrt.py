import torch

from ._common import unary


class Sqrt(unary(torch.sqrt)):
    pass
