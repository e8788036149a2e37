import torch

from ._common import unary


class Sign(unary(torch.sign)):
    pass
