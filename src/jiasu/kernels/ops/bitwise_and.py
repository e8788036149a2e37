import torch

from ._common import binary


class BitwiseAnd(binary(torch.bitwise_and)):
    pass
