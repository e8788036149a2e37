import torch

from ._common import binary


class Greater(binary(torch.gt)):
    pass
