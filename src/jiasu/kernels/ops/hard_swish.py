import torch.nn.functional as F

from ._common import unary


class HardSwish(unary(F.hardswish)):
    pass
