import torch

from ._common import binary


class Equal(binary(torch.eq)):
    pass
