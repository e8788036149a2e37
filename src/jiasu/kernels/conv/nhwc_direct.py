"""``nhwc_direct``: direct convolution in jiasu's C (``kernels/native/direct.c``) on channels_last tensors.

For two kinds of layer that the vendor paths serve badly at small sizes:

- **few input channels** (groups 1, at most :data:`MAX_DENSE_CHANNELS`): a network's
  first layer. oneDNN, through torch, costs about 28 us a call before any arithmetic,
  and its kernels for 1-3 input channels run under its usual speed: smallcnn's
  first conv (1 channel in, 16 out, 88x88) took 157 us in the model against ONNX
  Runtime's 57. The C loop broadcasts each input value against a vector of 16
  output channels (8 with AVX2), with a block of 16, 8 or 6 output pixels sharing every weight
  load (up to 24 accumulators in registers; 12 with AVX2); a window's taps run as one flat loop
  over an offset table. Alone at 2 threads: 70 us on that layer against oneDNN's 94;
- **depthwise** (groups == channels, multiplier 1), as in mobilenet: one
  multiply-add per tap and channel, a vector of channels at a time; 3x3 windows at stride 1
  or 2 with the weights in registers, four pixels at a time.

Taps in the padding are skipped, so no padded copy is made; bias, the residual
and a ReLU or Clip are applied before the store, other activations after it (on
the output, in place). Rows of output are split over torch's thread count with
OpenMP. The output is channels_last.

Elsewhere (another device, a dtype other than float32, or where the C kernels
do not build; see ``jiasu.kernels.native``) the callable runs ``F.conv2d``, the
same convolution, so a plan that names this algorithm still runs.
"""

from __future__ import annotations

import ctypes
from typing import Optional

import torch

from ..native import padded_channels
from .base import ConvSpec, Epilogue, FusedConvFn, FusingConvAlgorithm, check_2d, clamp_of, conv2d_fused, native_conv, output_size
from .pointwise import padded_bias

#: Dense convs with more input channels than this are left to GEMM-based paths: the C
#: loop has no blocking over input channels and reads each weight vector once per pixel block.
MAX_DENSE_CHANNELS = 16


def _library() -> Optional[ctypes.CDLL]:
    """The C kernels with argument types set, or None where they do not build here."""
    from ..native import typed

    i, p, f = ctypes.c_int, ctypes.c_void_p, ctypes.c_float
    geometry = [i] * 8  # kh, kw, sh, sw, dh, dw, pt, pl
    return typed(
        "direct",
        {
            "jiasu_pack_dense": ([p, i, i, p], None),  # w (c_out, kh, kw, c_in), c_out, taps, packed
            # x, z, y first (they change from call to call), then what stays fixed for an input shape
            "jiasu_direct_dense": ([p, p, p, i, i, i, i, i, p, *geometry, i, p, f, f, i, i, i], i),
            "jiasu_direct_depthwise": ([p, p, p, i, i, i, i, p, *geometry, p, f, f, i, i, i], i),
        },
    )


def native_available() -> bool:
    """Whether the C kernels run here (built on first call); see :func:`jiasu.kernels.native.status`."""
    return _library() is not None


class NHWCDirect(FusingConvAlgorithm):
    name = "nhwc_direct"
    description = (
        f"direct convolution in C on channels_last tensors: depthwise (multiplier 1), or groups 1 with at most "
        f"{MAX_DENSE_CHANNELS} input channels; bias, residual and ReLU/Clip fused (CPU float32)"
    )

    def check(self, spec: ConvSpec) -> Optional[str]:
        reason = check_2d(spec)
        if reason is not None:
            return reason
        depthwise = spec.groups == spec.in_channels == spec.out_channels
        if spec.groups != 1 and not depthwise:
            return f"groups {spec.groups}: neither 1 nor depthwise with multiplier 1"
        if spec.groups == 1 and spec.in_channels > MAX_DENSE_CHANNELS:
            return f"{spec.in_channels} input channels, more than {MAX_DENSE_CHANNELS} (groups 1)"
        return None

    def prepare_fused(
        self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec, epilogue: Optional[Epilogue]
    ) -> FusedConvFn:
        """Pack the weights once (dense: ``jiasu_pack_dense``'s panels of output channels; depthwise: ``(kh, kw, C)``)."""
        (kh, kw), (sh, sw), (dh, dw) = spec.kernel, spec.stride, spec.dilation
        pt, pl, pb, pr = spec.pads
        c_out = spec.out_channels
        depthwise = spec.groups != 1
        lo, hi, after = clamp_of(epilogue)
        lib = _library() if weight.device.type == "cpu" and weight.dtype == torch.float32 else None
        if lib is None:
            return conv2d_fused(weight, bias, spec, epilogue)
        if depthwise:
            packed = weight.reshape(c_out, kh * kw).t().contiguous()
            b = bias.contiguous() if bias is not None else None
        else:
            taps = kh * kw * spec.in_channels
            plain = weight.permute(0, 2, 3, 1).contiguous()  # (C_out, taps); named: a temporary would be freed before the call reads it
            packed = weight.new_empty(taps * padded_channels(c_out))
            lib.jiasu_pack_dense(plain.data_ptr(), c_out, taps, packed.data_ptr())
            b = padded_bias(bias, c_out) if bias is not None else None
        function = "jiasu_direct_depthwise" if depthwise else "jiasu_direct_dense"

        def prepare(shape: torch.Size, nchw: bool, threads: int) -> tuple:
            n, c, h, w = shape
            ho, wo = output_size(h, kh, sh, dh, pt + pb), output_size(w, kw, sw, dw, pl + pr)
            geometry = (kh, kw, sh, sw, dh, dw, pt, pl)
            b_ptr = b.data_ptr() if b is not None else None  # the closure keeps b (and packed) alive
            if depthwise:
                return (n, c_out, ho, wo), (n, h, w, c, packed.data_ptr(), *geometry, b_ptr, lo, hi, ho, wo, threads)
            return (n, c_out, ho, wo), (n, h, w, c, int(nchw), packed.data_ptr(), *geometry, c_out, b_ptr, lo, hi, ho, wo, threads)

        def reads_nchw(x: torch.Tensor) -> bool:
            """A dense layer reads an NCHW input in place (a network's input comes NCHW): no copy to NHWC."""
            return not depthwise and x.shape[1] > 1 and x.is_contiguous()

        fallback = lambda: conv2d_fused(weight, bias, spec, epilogue)  # noqa: E731
        return native_conv(self.name, lib, function, spec.in_channels, prepare, after, fallback, reads_nchw)
