import torch

from ._common import binary


class And(binary(torch.logical_and)):
    pass
