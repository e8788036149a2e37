import torch

from ._common import binary


class Mul(binary(torch.mul)):
    pass
