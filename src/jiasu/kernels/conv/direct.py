"""``direct``: the vendor path, ``torch.nn.functional.conv{1,2,3}d``. The baseline every other algorithm is checked against."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

from .base import ConvAlgorithm, ConvFn, ConvSpec, pad_input

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


class Direct(ConvAlgorithm):
    name = "direct"
    description = "torch.nn.functional.conv (oneDNN/cuDNN): the baseline, applies to every Conv"

    def check(self, spec: ConvSpec) -> Optional[str]:
        if spec.ndim not in _CONV:
            return f"{spec.ndim}-D convolution"
        return None

    def prepare(self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec) -> ConvFn:
        conv = _CONV[spec.ndim]
        stride, dilation, groups = spec.stride, spec.dilation, spec.groups
        sym = spec.symmetric_pads
        # .contiguous(): torch 2.13's CPU conv segfaults on some channels_last inputs
        # with a bias (a no-op for the NCHW tensors the engine normally passes).
        if sym is not None:
            return lambda x: conv(x.contiguous(), weight, bias, stride, sym, dilation, groups)
        # torch's conv only pads symmetrically; pad explicitly first when ONNX asks otherwise.
        return lambda x: conv(pad_input(x.contiguous(), spec), weight, bias, stride, 0, dilation, groups)
