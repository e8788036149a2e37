import torch

from ._common import unary


class Sinh(unary(torch.sinh)):
    pass
