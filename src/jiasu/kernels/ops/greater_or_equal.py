import torch

from ._common import binary


class GreaterOrEqual(binary(torch.ge)):
    pass
