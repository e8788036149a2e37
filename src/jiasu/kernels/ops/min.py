import torch

from ._common import variadic


class Min(variadic(torch.minimum)):
    pass
