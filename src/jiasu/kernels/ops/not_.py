import torch

from ._common import unary


class Not(unary(torch.logical_not)):
    pass
