import torch

from ._common import unary


class Log(unary(torch.log)):
    pass
