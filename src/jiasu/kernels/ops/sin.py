import torch

from ._common import unary


class Sin(unary(torch.sin)):
    pass
