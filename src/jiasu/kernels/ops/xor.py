import torch

from ._common import binary


class Xor(binary(torch.logical_xor)):
    pass
