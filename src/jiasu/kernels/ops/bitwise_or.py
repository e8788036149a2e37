import torch

from ._common import binary


class BitwiseOr(binary(torch.bitwise_or)):
    pass
