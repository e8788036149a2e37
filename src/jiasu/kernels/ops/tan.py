import torch

from ._common import unary


class Tan(unary(torch.tan)):
    pass
