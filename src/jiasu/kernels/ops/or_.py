import torch

from ._common import binary


class Or(binary(torch.logical_or)):
    pass
