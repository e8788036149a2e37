"""``nhwc_gemm``: a dense convolution as rows of patches times the packed weight, in jiasu's C (``kernels/native/gemm_conv.c``).

For the convolutions the other C kernels leave to oneDNN: strided ones (resnet's 3x3 stride-2 convs and 1x1
downsamples), and 3x3 convs on maps too small for Winograd (7x7 at batch 1). Per block of output pixels a
thread gathers their input windows (patches, zeros in the padding) into a buffer that stays in L2, and
multiplies it by the weight packed once into ``pointwise``'s panels, with its register blocks; bias, residual
and ReLU/Clip in the store. Being one C call, it lets a chain (``jiasu.runtime.chain``) run on through such
a layer, where oneDNN's call through torch ends it.

Groups 1, any kernel, stride, dilation and padding. Elsewhere (another device or dtype, or where the C
kernels do not build) the callable runs ``F.conv2d``.
"""

from __future__ import annotations

import ctypes
from typing import Optional

import torch

from .base import ConvSpec, Epilogue, FusedConvFn, FusingConvAlgorithm, check_2d, clamp_of, conv2d_fused, native_conv, output_size
from .pointwise import _library as _pointwise_library
from .pointwise import pack_weight, padded_bias


def _library() -> Optional[ctypes.CDLL]:
    """The C kernel with argument types set, or None where it does not build here."""
    from ..native import typed

    i, p, f = ctypes.c_int, ctypes.c_void_p, ctypes.c_float
    # x, z, y first (they change from call to call), then what stays fixed for an input shape
    return typed("gemm_conv", {"jiasu_gemm_conv": ([p, p, p, i, i, i, i, p, *[i] * 8, i, p, f, f, i, i, i], i)})


def native_available() -> bool:
    return _library() is not None and _pointwise_library() is not None


class NHWCGemm(FusingConvAlgorithm):
    name = "nhwc_gemm"
    description = (
        "dense convolution in C on channels_last tensors: patches gathered per block of output pixels times the "
        "weight in pointwise's packed panels; any kernel, stride, dilation, padding; bias, residual and ReLU/Clip fused (CPU float32)"
    )

    def check(self, spec: ConvSpec) -> Optional[str]:
        reason = check_2d(spec)
        if reason is not None:
            return reason
        if spec.groups != 1:
            return f"groups {spec.groups}, not 1"
        return None

    def prepare_fused(
        self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec, epilogue: Optional[Epilogue]
    ) -> FusedConvFn:
        """Pack the weight once: (C_out, kh, kw, C_in) flattened to K = kh kw C_in rows of the C loop's panels."""
        (kh, kw), (sh, sw), (dh, dw) = spec.kernel, spec.stride, spec.dilation
        pt, pl, pb, pr = spec.pads
        c_in, c_out = spec.in_channels, spec.out_channels
        lo, hi, after = clamp_of(epilogue)
        lib = _library() if weight.device.type == "cpu" and weight.dtype == torch.float32 else None
        pointwise = _pointwise_library() if lib is not None else None
        if lib is None or pointwise is None:
            return conv2d_fused(weight, bias, spec, epilogue)
        packed = pack_weight(pointwise, weight.permute(0, 2, 3, 1).reshape(c_out, kh * kw * c_in))  # K in (ky, kx, ci) order
        b = padded_bias(bias, c_out)

        def prepare(shape: torch.Size, nchw: bool, threads: int) -> tuple:
            n, _, h, w = shape
            ho, wo = output_size(h, kh, sh, dh, pt + pb), output_size(w, kw, sw, dw, pl + pr)
            # The pointers are read here, so the closure keeps packed and b alive.
            return (n, c_out, ho, wo), (n, h, w, c_in, packed.data_ptr(), kh, kw, sh, sw, dh, dw, pt, pl, c_out, b.data_ptr(), lo, hi, ho, wo, threads)

        return native_conv(self.name, lib, "jiasu_gemm_conv", c_in, prepare, after, lambda: conv2d_fused(weight, bias, spec, epilogue))
