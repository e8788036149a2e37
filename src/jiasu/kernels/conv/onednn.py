"""``onednn``: oneDNN convolution with prepacked weights, channels_last activations and fused post-ops.

``direct`` calls ``F.conv2d`` on NCHW tensors, and on the CPU oneDNN then
reorders the input into its blocked layout, the weight into its own, and the
result back, on every call: for a 64-channel 56x56 layer at batch 8 that was
half of the time measured here (18.9 ms vs 8.9 ms). This algorithm does what a
deployment engine does instead:

- the weight is reordered once per input shape and intra-op thread count (on
  the first run at that pair) into the layout oneDNN picks for this convolution,
  that shape and that many threads (``mkldnn::_reorder_convolution_weight``).
  The thread count belongs in the key: oneDNN's choice of kernel, and so of
  weight layout, depends on it, and a weight packed at 2 threads and run at 1
  was reordered again inside every call (resnet18 at 28x28, batch 1, 1 thread:
  7.5 ms per image instead of 1.6);
- activations stay channels_last (NHWC in memory, NCHW logically), which oneDNN
  reads and writes without reorders, so a chain of convolutions passes tensors
  straight through; other ops see ordinary NCHW-shaped torch tensors;
- bias, the activation (ReLU, ReLU6/Clip, LeakyReLU, HardSwish, SiLU, Sigmoid,
  Tanh) and the residual add (+ReLU) run as oneDNN post-ops inside the
  convolution's own pass over the output (``mkldnn::_convolution_pointwise``,
  the op PyTorch's inductor lowers convolutions to on the CPU).

CPU only (float32 and bfloat16, 2-D); on another device ``prepare`` falls back
to ``direct``'s path.
"""

from __future__ import annotations

import math
from typing import Optional

import torch

from .base import ConvSpec, Epilogue, FusedConvFn, FusingConvAlgorithm, check_2d, pad_input

# ONNX activation -> oneDNN post-op name, and how its params become oneDNN scalars.
_UNARY_POST_OPS = {
    "Relu": ("relu", lambda p: []),
    "Clip": ("hardtanh", lambda p: [float(p[0]) if not math.isinf(p[0]) else -3.4e38, float(p[1]) if not math.isinf(p[1]) else 3.4e38]),
    "LeakyRelu": ("leaky_relu", lambda p: [float(p[0])]),
    "HardSwish": ("hardswish", lambda p: []),
    "Sigmoid": ("sigmoid", lambda p: []),
    "Tanh": ("tanh", lambda p: []),
    "Swish": ("swish", lambda p: []),
}
# oneDNN's binary-add post-op accepts only these activations after the add.
_BINARY_UNARY = {"", "Relu"}


def unary_post_op(epilogue: Epilogue) -> tuple[str, list]:
    """oneDNN's post-op name and scalars for the epilogue's activation (``"none"`` for none)."""
    if not epilogue.activation:
        return "none", []
    name, make = _UNARY_POST_OPS[epilogue.activation]
    return name, make(epilogue.params)


def pack_weight(weight: torch.Tensor, padding, stride, dilation, groups: int, input_size: list) -> torch.Tensor:
    """``weight`` reordered into the layout oneDNN picks for this conv, input size and the current thread count."""
    return torch.ops.mkldnn._reorder_convolution_weight(weight, padding, stride, dilation, groups, input_size)


def available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


def bf16_supported() -> bool:
    """Whether oneDNN runs bfloat16 convolutions on this CPU: it needs AVX-512 (BW, VL, DQ) or AVX-NE-CONVERT,
    and on an AVX2-only CPU (seen: AMD Zen 3) it raises inside the call."""
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(probe()) if probe is not None else False


class OneDNN(FusingConvAlgorithm):
    name = "onednn"
    description = "oneDNN with weights prepacked at load time, channels_last activations, bias/activation/residual fused (CPU)"

    def check(self, spec: ConvSpec) -> Optional[str]:
        reason = check_2d(spec)
        if reason is not None:
            return reason
        if not available():
            return "this torch build has no oneDNN (mkldnn) convolution"
        if any(st > 1 for st in spec.stride) and any(d > 1 for d in spec.dilation):
            # torch 2.13's oneDNN segfaults on some of these (x (2, 2, 5, 1), 1x1 kernel,
            # stride 3, dilation 3, pads (0, 2)); deployed networks rarely combine the two.
            return "stride and dilation both > 1"
        if spec.dtype is not None and spec.dtype not in (torch.float32, torch.bfloat16):
            return f"dtype {str(spec.dtype).replace('torch.', '')}, not float32/bfloat16"
        if spec.dtype == torch.bfloat16 and not bf16_supported():
            return "bfloat16, and this CPU lacks what oneDNN's bfloat16 convolution needs (AVX-512 BW/VL/DQ or AVX-NE-CONVERT)"
        return None

    def prepare_fused(
        self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec, epilogue: Optional[Epilogue]
    ) -> FusedConvFn:
        if weight.device.type != "cpu":
            from .direct import Direct

            return Direct().prepare_fused(weight, bias, spec, epilogue)
        epilogue = epilogue or Epilogue()
        sym = spec.symmetric_pads
        padding = list(sym) if sym is not None else [0, 0]
        stride, dilation, groups = list(spec.stride), list(spec.dilation), spec.groups
        if bias is not None:
            bias = bias.contiguous()
        unary, scalars = unary_post_op(epilogue)
        conv = torch.ops.mkldnn._convolution_pointwise
        binary = torch.ops.mkldnn._convolution_pointwise.binary
        cl = torch.channels_last
        # Weight per (input shape, threads): packed for that pair, unless it proved wrong there.
        weights: dict[tuple, torch.Tensor] = {}
        plain = weight.contiguous()
        threads = torch.get_num_threads

        def pick(x: torch.Tensor) -> torch.Tensor:
            """The weight packed for ``x``'s shape at the current thread count, checked once against the plain weight.

            Packing without the input shape lets oneDNN choose a layout its fast kernels
            do not take: a 48->96 5x5 conv on a 4x4 map ran 7.7 ms instead of 0.26 ms.
            And torch 2.13's oneDNN gets a few odd shapes wrong with a prepacked weight
            and right with a plain one (x (1, 1, 1, 5), 3x4 kernel, stride 1x2, pads 2, 0:
            the middle output differs); both run once here, never silently.
            """
            key = (x.shape, threads())
            w = weights.get(key)
            if w is None:
                packed = pack_weight(plain, padding, stride, dilation, groups, list(x.shape))
                a = conv(x, packed, bias, padding, stride, dilation, groups, "none", [], "")
                b = conv(x, plain, bias, padding, stride, dilation, groups, "none", [], "")
                scale = max(b.abs().max().item(), 1e-30) if b.numel() else 1.0
                w = weights[key] = packed if a.shape == b.shape and (a - b).abs().max().item() <= 1e-4 * scale else plain
            return w

        def prep(x: torch.Tensor) -> torch.Tensor:
            x = x.contiguous(memory_format=cl)
            return x if sym is not None else pad_input(x, spec).contiguous(memory_format=cl)

        if not epilogue.residual:

            def run(x, z=None):
                x = prep(x)
                return conv(x, pick(x), bias, padding, stride, dilation, groups, unary, scalars, "")

            return run
        post = "relu" if epilogue.activation == "Relu" else None
        # oneDNN's binary add accepts only ReLU after it; other activations run in place afterwards.
        tail = None if epilogue.activation in _BINARY_UNARY else Epilogue(epilogue.activation, epilogue.params)

        def run_residual(x, z):
            x = prep(x)
            y = binary(x, z.contiguous(memory_format=cl), pick(x), bias, padding, stride, dilation, groups, "add", None, post, [], "")
            return y if tail is None else tail.apply(y, None)

        return run_residual
