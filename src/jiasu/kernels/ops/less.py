import torch

from ._common import binary


class Less(binary(torch.lt)):
    pass
