import torch

from ._common import binary


class Sub(binary(torch.sub)):
    pass
