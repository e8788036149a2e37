import torch

from ._common import unary


class Sigmoid(unary(torch.sigmoid)):
    pass
