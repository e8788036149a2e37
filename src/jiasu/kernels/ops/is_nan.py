import torch

from ._common import unary


class IsNaN(unary(torch.isnan)):
    pass
