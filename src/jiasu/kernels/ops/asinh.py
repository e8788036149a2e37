import torch

from ._common import unary


class Asinh(unary(torch.asinh)):
    pass
