import torch

from ._common import binary


class LessOrEqual(binary(torch.le)):
    pass
