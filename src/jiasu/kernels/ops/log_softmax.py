import torch

from .softmax import Softmax


class LogSoftmax(Softmax):
    fn = staticmethod(torch.log_softmax)
    native = False
