import torch

from ._common import variadic


class Max(variadic(torch.maximum)):
    pass
