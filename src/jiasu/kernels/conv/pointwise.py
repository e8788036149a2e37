"""``pointwise``: a 1x1 stride-1 convolution as one matrix product in jiasu's C (``kernels/native/pointwise.c``).

On a channels_last tensor a 1x1 convolution is ``y (pixels, C_out) = x (pixels, C_in) @ W``.
oneDNN through torch costs 25-40 us a call here before any arithmetic, and ran
mobilenet_v2's pointwise layers at batch 1 at 90-180 GFLOP/s of this machine's 230.
The C loop packs ``W`` once into panels of up to 64 output channels, keeps a block of
pixels x a panel (at most 24 vectors) in registers, splits the pixels evenly over the
threads (or, on small maps with more output channels than pixels, the panels), writes
an output of 8 MiB or more with streaming stores, and fuses bias, the residual and
ReLU/Clip into the store; other activations run after it, in place. Per layer against
oneDNN: ``benchmarks/direct_layers.py``.

Groups 1, kernel 1x1, stride 1, no padding. Elsewhere (another device, a dtype other
than float32, or where the C kernels do not build; see ``jiasu.kernels.native``) the
callable runs ``F.conv2d``, the same convolution, so a plan that names this algorithm
still runs.
"""

from __future__ import annotations

import ctypes
from typing import Optional

import torch

from ..native import padded_channels
from .base import ConvSpec, Epilogue, FusedConvFn, FusingConvAlgorithm, check_2d, clamp_of, conv2d_fused, native_conv


def _library() -> Optional[ctypes.CDLL]:
    """The C kernels with argument types set, or None where they do not build here."""
    from ..native import typed

    i, p, f, n = ctypes.c_int, ctypes.c_void_p, ctypes.c_float, ctypes.c_long
    return typed(
        "pointwise",
        {
            "jiasu_pack_pointwise": ([p, i, i, p], None),
            "jiasu_pointwise": ([p, p, p, n, i, p, i, p, f, f, i], i),  # x, z, y, then what stays fixed for a shape
        },
    )


def pack_weight(lib: ctypes.CDLL, weight: torch.Tensor) -> torch.Tensor:
    """A float32 (C_out, C_in) matrix, or a 1x1 weight (C_out, C_in, 1, 1), in the C loop's panels: C_in x
    ``padded_channels(C_out)`` (``lib``: :func:`_library`'s). Winograd's ``U`` and ``nhwc_gemm``'s flattened
    weights are packed the same way."""
    c_out, c_in = int(weight.shape[0]), int(weight.shape[1])
    plain = weight.reshape(c_out, c_in).contiguous()
    packed = plain.new_empty(c_in * padded_channels(c_out))
    lib.jiasu_pack_pointwise(plain.data_ptr(), c_out, c_in, packed.data_ptr())
    return packed


def padded_bias(bias: Optional[torch.Tensor], channels: int) -> torch.Tensor:
    """``bias`` (zeros for None) padded with zeros to ``padded_channels(channels)``, so the C loops load it unmasked."""
    out = torch.zeros(padded_channels(channels))
    if bias is not None:
        out[:channels] = bias
    return out


def native_available() -> bool:
    """Whether the C kernels run here (built on first call); see :func:`jiasu.kernels.native.status`."""
    return _library() is not None


class Pointwise(FusingConvAlgorithm):
    name = "pointwise"
    description = "1x1 stride-1 convolution as a register-blocked matrix product in C on channels_last tensors; bias, residual and ReLU/Clip fused (CPU float32)"

    def check(self, spec: ConvSpec) -> Optional[str]:
        reason = check_2d(spec)
        if reason is not None:
            return reason
        if spec.groups != 1:
            return f"groups {spec.groups}, not 1"
        if spec.kernel != (1, 1):
            return f"kernel {spec.kernel[0]}x{spec.kernel[1]}, not 1x1"
        if spec.stride != (1, 1):
            return f"stride {spec.stride[0]}x{spec.stride[1]}, not 1"
        if any(spec.pads):
            return f"pads {spec.pads}, not 0"
        return None

    def prepare_fused(
        self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec, epilogue: Optional[Epilogue]
    ) -> FusedConvFn:
        """Pack the weight once into the C loop's panels (``C_in`` x ``C_out`` rounded up to 16)."""
        c_out, c_in = spec.out_channels, spec.in_channels
        lo, hi, after = clamp_of(epilogue)
        lib = _library() if weight.device.type == "cpu" and weight.dtype == torch.float32 else None
        if lib is None:
            return conv2d_fused(weight, bias, spec, epilogue)
        packed, b = pack_weight(lib, weight), padded_bias(bias, c_out)

        def prepare(shape: torch.Size, nchw: bool, threads: int) -> tuple:
            n, _, h, w = shape
            # The pointers are read here, so the closure keeps packed and b alive.
            return (n, c_out, h, w), (n * h * w, c_in, packed.data_ptr(), c_out, b.data_ptr(), lo, hi, threads)

        return native_conv(self.name, lib, "jiasu_pointwise", c_in, prepare, after, lambda: conv2d_fused(weight, bias, spec, epilogue))
