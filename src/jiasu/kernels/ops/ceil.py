import torch

from ._common import unary


class Ceil(unary(torch.ceil)):
    pass
