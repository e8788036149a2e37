import torch

from ._common import unary


class BitwiseNot(unary(torch.bitwise_not)):
    pass
