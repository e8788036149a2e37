import torch

from ._common import unary


class Floor(unary(torch.floor)):
    pass
