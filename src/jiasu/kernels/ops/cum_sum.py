import torch

from ._scan import ScanBase


class CumSum(ScanBase):
    fn = staticmethod(torch.cumsum)
    identity = 0
