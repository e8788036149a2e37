import torch

from ._arg import ArgBase


class ArgMin(ArgBase):
    fn = staticmethod(torch.argmin)
