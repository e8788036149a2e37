import torch

from ._common import unary


class Atanh(unary(torch.atanh)):
    pass
