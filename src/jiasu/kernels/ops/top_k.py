import torch

from ..base import Kernel


class TopK(Kernel):
    """The k largest (or smallest) along ``axis``, sorted; ties keep the lower index first, as ONNX requires.

    A stable sort gives that order (torch.topk does not promise it). k is the
    ``k`` attribute before opset 10 and an input since.
    """

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axis = int(self.attr("axis", -1))
        self.largest = bool(self.attr("largest", 1))
        k = self.attr("k")
        if k is None:
            const = self.const_input(1)
            k = int(const.reshape(-1)[0]) if const is not None else None
        self.k = k

    def run(self, x, k=None):
        k = self.k if self.k is not None else int(k.reshape(-1)[0])
        values, indices = torch.sort(x, dim=self.axis, descending=self.largest, stable=True)
        return (values.narrow(self.axis, 0, k), indices.narrow(self.axis, 0, k))
