import torch

from ._common import unary


class Tanh(unary(torch.tanh)):
    pass
