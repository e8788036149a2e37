import torch

from ._common import unary


class Reciprocal(unary(torch.reciprocal)):
    pass
