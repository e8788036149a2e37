import torch

from ._common import binary


class Add(binary(torch.add)):
    pass
