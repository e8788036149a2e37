import torch

from ._common import unary


class Asin(unary(torch.asin)):
    pass
