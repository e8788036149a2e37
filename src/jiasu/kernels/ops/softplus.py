import torch.nn.functional as F

from ._common import unary


class Softplus(unary(F.softplus)):
    pass
