import torch

from ..base import Kernel


class BatchNormalization(Kernel):
    """Inference form: y = (x - mean) / sqrt(var + eps) * scale + bias, per channel (axis 1).

    With constant statistics the affine form (x * a + b) is precomputed once.
    """

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.eps = float(self.attr("epsilon", 1e-5))
        if self.attr("training_mode", 0):
            from ...errors import UnsupportedOpError

            raise UnsupportedOpError(
                f"BatchNormalization node {node.name!r} has training_mode=1; jiasu runs inference only. "
                "Export the model in eval mode (model.eval()) before converting it."
            )
        consts = [self.const_input(i) for i in range(1, 5)]
        self.affine = self._affine(*consts) if all(c is not None for c in consts) else None

    def _affine(self, scale, bias, mean, var):
        a = scale / torch.sqrt(var + self.eps)
        return a, bias - mean * a

    def run(self, x, scale, bias, mean, var):
        a, b = self.affine if self.affine is not None else self._affine(scale, bias, mean, var)
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return (torch.addcmul(b.reshape(shape), x, a.reshape(shape)),)
