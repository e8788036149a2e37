import torch

from ._common import unary


class Erf(unary(torch.erf)):
    pass
