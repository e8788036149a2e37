import torch

from ._common import binary


class BitwiseXor(binary(torch.bitwise_xor)):
    pass
