"""Quantization-aware training: fine-tune a torch model under simulated INT8, then export QDQ as usual.

:func:`prepare_qat` returns a copy of the model in which every ``nn.Conv2d`` / ``nn.Linear`` sees its
weight fake-quantized like the QDQ writer stores it (int8, symmetric, per output channel) and its
input fake-quantized like the writer's activations (uint8, asymmetric, per tensor, range tracked as an
exponential moving average of the batch min/max during training). Rounding has no gradient, so the
backward pass uses the straight-through estimator: the gradient passes unchanged where the value was
inside the quantization range and is zero where it was clipped (``torch.fake_quantize_*`` does this).

:func:`convert_qat` strips the fake quantizers (the trained float weights are exactly what the writer
quantizes per channel) and writes the same QDQ ONNX model as post-training static quantization, with
each activation range taken from calibration data (``method``, min-max by default).
"""

from __future__ import annotations

import copy
from typing import Any, Optional

import torch
from torch import nn

from .qparams import QTYPES, REDUCED, resolve_reduce_range

QMIN, QMAX = 0, 255


class ActivationFakeQuant(nn.Module):
    """uint8 per-tensor fake quantization with an EMA range (updated in training mode only)."""

    def __init__(self, momentum: float = 0.01):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("lo", torch.tensor(0.0))
        self.register_buffer("hi", torch.tensor(0.0))
        self.register_buffer("initialized", torch.tensor(False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:
            with torch.no_grad():
                lo, hi = x.min().clamp(max=0.0), x.max().clamp(min=0.0)
                if not bool(self.initialized):
                    self.lo.copy_(lo), self.hi.copy_(hi), self.initialized.fill_(True)
                else:
                    self.lo.lerp_(lo, self.momentum), self.hi.lerp_(hi, self.momentum)
        scale = float((self.hi - self.lo) / (QMAX - QMIN)) or 1.0
        zero_point = int(min(max(round(QMIN - float(self.lo) / scale), QMIN), QMAX))
        return torch.fake_quantize_per_tensor_affine(x, scale, zero_point, QMIN, QMAX)


def fake_quant_weight(w: torch.Tensor, qmax: int = 127) -> torch.Tensor:
    """int8 symmetric per-output-channel fake quantization (range -qmax..qmax, as the QDQ writer stores
    weights: 127, or 64 with ``reduce_range``)."""
    amax = w.detach().abs().reshape(w.shape[0], -1).amax(1).clamp(min=1e-12)
    scale = (amax / float(qmax)).to(torch.float32)
    return torch.fake_quantize_per_channel_affine(w, scale, torch.zeros_like(scale, dtype=torch.int32), 0, -qmax, qmax)


class QATConv2d(nn.Conv2d):
    def forward(self, x):
        return self._conv_forward(self.input_quant(x), fake_quant_weight(self.weight, self.weight_qmax), self.bias)


class QATLinear(nn.Linear):
    def forward(self, x):
        return nn.functional.linear(self.input_quant(x), fake_quant_weight(self.weight, self.weight_qmax), self.bias)


_QAT = {nn.Conv2d: QATConv2d, nn.Linear: QATLinear}


def prepare_qat(model: nn.Module, *, reduce_range: Optional[bool] = None) -> nn.Module:
    """A copy of ``model`` with fake quantization on every Conv2d/Linear (see the module docstring); train it as usual.

    ``reduce_range``: train with weights in 7 bits, as :func:`.static.quantize_static` stores them then (None: where
    this CPU's int8 products saturate otherwise); :func:`convert_qat` exports with the same choice.
    """
    qmax = REDUCED["int8"].qmax if resolve_reduce_range(reduce_range) else QTYPES["int8"].qmax
    model = copy.deepcopy(model)
    for module in list(model.modules()):
        if type(module) in _QAT:
            module.__class__ = _QAT[type(module)]
            module.input_quant = ActivationFakeQuant()
            module.weight_qmax = qmax
    return model


def strip_qat(model: nn.Module) -> nn.Module:
    """A copy with the QAT layers turned back into plain Conv2d/Linear (same trained weights)."""
    model = copy.deepcopy(model)
    back = {v: k for k, v in _QAT.items()}
    for module in list(model.modules()):
        if type(module) in back:
            module.__class__ = back[type(module)]
            del module.input_quant, module.weight_qmax
    return model


def convert_qat(model: nn.Module, example_input: torch.Tensor, calib: Any, *, method: str = "minmax", **options):
    """QDQ ONNX (a :class:`.static.StaticResult`) from a QAT-trained model: strip, export, quantize statically."""
    from ...frontends import load
    from .static import quantize_static

    qmax = {m.weight_qmax for m in model.modules() if type(m) in _QAT.values()}
    if len(qmax) == 1 and "reduce_range" not in options:
        options["reduce_range"] = qmax == {REDUCED["int8"].qmax}  # export the weights in the range they trained in
    plain = strip_qat(model).eval()
    return quantize_static(load(plain, example_input=example_input), calib, method=method, **options)
