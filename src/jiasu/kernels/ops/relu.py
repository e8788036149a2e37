import torch

from ._common import unary


class Relu(unary(torch.relu)):
    pass
