import ctypes
from typing import Optional

import torch
import torch.nn.functional as F

from ..base import Kernel
from ..conv.base import clamp_of
from ..conv.onednn import available as onednn_available
from ..conv.onednn import unary_post_op
from ..native.call import In, NativeCall, Out


class Gemm(Kernel):
    """Y = alpha * A' @ B' + beta * C, with A' and B' optionally transposed.

    A constant B is transposed once at build time so the run is one addmm.
    The fully-connected case (constant B, alpha = beta = 1, A not transposed,
    no C or a constant bias row) on the CPU takes oneDNN's inner product with
    the weight prepacked once: measured here 2.9x faster than addmm for a
    4096x4096 layer at batch 8 (4.9 vs 14.1 ms, one thread). One row is a GEMV,
    bound by reading the weights: jiasu's C GEMV (``kernels/native/gemv.c``) splits
    the output rows over torch's threads, where MKL's (behind ``F.linear``) ran on
    one thread whatever the thread count. Measured at 2 threads, us, MKL / C:
    6144x128 (smallcnn's fc1) 52 / 25, 1280x1000 (mobilenet_v2) 100 / 35,
    2048x1000 (resnet50) 138 / 58, 25088x4096 (vgg16's fc6) 17,180 / 12,480.
    2 to :data:`FEW_ROWS` rows (a classifier at a small batch) are a 1x1 convolution of
    that many pixels: ``pointwise``'s C panel product, with the weight packed once, beat
    oneDNN's inner product at 8 rows by 1.07-1.61x (smallcnn's 6144x128 and 128x848,
    the zoo's 512-2048x1000, vgg16's 4096x4096 and 25088x4096; paired, 2 threads) and
    lets a chain run the classifier (smallcnn at batch 8: one chain, 1.14x). Where the
    C kernels do not build, ``F.linear`` runs it. The activation of a
    ``jiasu::FusedGemm`` (``epilogue``) runs as oneDNN's post-op, or in the C loops'
    stores for ReLU and Clip.
    """

    #: what runs on the output (FusedGemm's activation); None for plain Gemm.
    epilogue = None

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.alpha = float(self.attr("alpha", 1.0))
        self.beta = float(self.attr("beta", 1.0))
        self.trans_a = bool(self.attr("transA", 0))
        self.trans_b = bool(self.attr("transB", 0))
        b = self.const_input(1)
        self.b = (b.t() if self.trans_b else b).contiguous() if b is not None else None
        self._linear = None

    def _prepare_linear(self):
        """Set up the inner-product path if this node is a plain fully-connected layer (see the class docstring)."""
        b = self.const_input(1)
        c = self.const_input(2) if self.has_input(2) else None
        if (
            b is None
            or b.dim() != 2
            or b.device.type != "cpu"
            or b.dtype not in (torch.float32, torch.bfloat16)
            or self.trans_a
            or self.alpha != 1.0
            or (self.has_input(2) and (c is None or self.beta != 1.0))
            or not onednn_available()
        ):
            return None
        weight = (b if self.trans_b else b.t()).contiguous()  # (N, K)
        if c is not None:
            if c.numel() != weight.shape[0] or (c.dim() == 2 and c.shape[0] != 1):
                return None
            c = c.reshape(-1).contiguous()
        epi = self.epilogue
        attr, scalars = unary_post_op(epi) if epi is not None else ("none", [])
        packed = torch.ops.mkldnn._reorder_linear_weight(weight, None)
        checked: dict[int, bool] = {}
        op = torch.ops.mkldnn._linear_pointwise
        gemv = _gemv(weight, c, epi) if weight.dtype == torch.float32 else None
        few = _few_rows(weight, c, epi) if weight.dtype == torch.float32 else None

        def run(a):
            rows = a.shape[0]
            if rows == 1 and gemv is not None and a.dtype == torch.float32 and a.shape[1] == weight.shape[1]:
                return gemv(a)
            if few is not None and few.takes(a):
                return few(a)
            ok = rows != 1 and checked.get(rows)
            if ok is None:
                # Checked once per batch size against F.linear, as oneDNN's prepacked
                # convolutions proved wrong on a few odd shapes (see conv/onednn.py).
                ref = F.linear(a, weight, c)
                got = op(a.contiguous(), packed, c, "none", [], "")
                ok = checked[rows] = bool((got - ref).abs().max() <= 1e-4 * max(ref.abs().max().item(), 1e-30))
            if ok:
                return op(a.contiguous(), packed, c, attr, scalars, "")
            y = F.linear(a, weight, c)  # one row (a GEMV, faster here), or a batch size oneDNN got wrong
            return epi.apply(y, None) if epi is not None else y

        run.gemv, run.few = gemv, few
        return run

    def native_call(self, a, b=None, c=None):
        """The C call where one runs ``a``: the GEMV for one float32 row (contiguous, no activation after it), the
        panel product for a few rows."""
        linear = self._linear_path()
        gemv = getattr(linear, "gemv", None)
        native = getattr(gemv, "native_call", None)
        if native is not None and a.dim() == 2 and a.shape[0] == 1 and a.dtype == torch.float32 and a.is_contiguous():
            return native(a)
        few = getattr(linear, "few", None)
        return few.native_call(a) if few is not None and few.takes(a) else None

    def _linear_path(self):
        """:meth:`_prepare_linear`'s function, made on first use (False where this node is not such a layer)."""
        if self._linear is None:
            self._linear = self._prepare_linear() or False
        return self._linear

    def run(self, a, b, c=None):
        linear = self._linear_path()
        if linear and a.dim() == 2 and a.dtype == self.b.dtype:
            return (linear(a),)
        if self.trans_a:
            a = a.t()
        if self.b is not None:
            b = self.b
        elif self.trans_b:
            b = b.t()
        if c is None:
            out = torch.matmul(a, b)
        elif c.dtype.is_floating_point and a.dtype.is_floating_point:
            out = torch.addmm(c.expand(a.shape[0], b.shape[1]) if c.dim() else c, a, b, beta=self.beta, alpha=self.alpha)
            return (self._epilogue(out),)
        else:
            return (self._epilogue(self.alpha * torch.matmul(a, b) + self.beta * c),)
        return (self._epilogue(out * self.alpha if self.alpha != 1.0 else out),)

    def _epilogue(self, y):
        return self.epilogue.apply(y, None) if self.epilogue is not None else y


def _gemv_library() -> Optional[ctypes.CDLL]:
    """``kernels/native/gemv.c`` with its argument types set, or None where it does not build here."""
    from ..native import typed

    p, n, f = ctypes.c_void_p, ctypes.c_long, ctypes.c_float
    return typed("gemv", {"jiasu_gemv": ([p, p, p, p, n, n, f, f, ctypes.c_int], ctypes.c_int)})


def _gemv(weight: torch.Tensor, bias: Optional[torch.Tensor], epilogue):
    """``a (1, K) -> act(a @ weight.T + bias)`` by the C GEMV (float32, contiguous ``(N, K)`` weight), or None."""
    lib = _gemv_library()
    if lib is None:
        return None
    n, k = weight.shape
    lo, hi, after = clamp_of(epilogue)

    def run(a: torch.Tensor) -> torch.Tensor:
        a = a.contiguous()
        y = a.new_empty(1, n)
        b_ptr = bias.data_ptr() if bias is not None else None  # taken here, so the closure keeps the bias alive
        lib.jiasu_gemv(weight.data_ptr(), a.data_ptr(), b_ptr, y.data_ptr(), n, k, lo, hi, torch.get_num_threads())
        return after.apply(y, None) if after is not None else y

    def native_call(a: torch.Tensor) -> Optional[NativeCall]:
        """``run``'s C call on a contiguous (1, K) float32 ``a``, where no activation runs after it."""
        if after is not None or tuple(a.shape) != (1, k):
            return None
        b_ptr = bias.data_ptr() if bias is not None else None
        return NativeCall.of(lib, "jiasu_gemv", (weight.data_ptr(), In(0), b_ptr, Out(0), n, k, lo, hi, torch.get_num_threads()))

    run.native_call = native_call
    return run


#: The most rows (batch) the C panel product takes a fully-connected layer for: each 6-row block reads the whole
#: weight once more, which past a few blocks oneDNN's blocked GEMM avoids.
FEW_ROWS = 16


def _few_rows(weight: torch.Tensor, bias: Optional[torch.Tensor], epilogue):
    """``a (rows, K) -> act(a @ weight.T + bias)`` for 2..:data:`FEW_ROWS` contiguous float32 rows, by ``pointwise``'s
    C product (a fully-connected layer is a 1x1 convolution of ``rows`` pixels) with the weight packed once into
    its panels; or None where the C kernels do not build or the activation is not a clamp."""
    from ..conv.pointwise import _library as pointwise_library
    from ..conv.pointwise import pack_weight, padded_bias

    lib = pointwise_library()
    lo, hi, after = clamp_of(epilogue)
    if lib is None or after is not None:
        return None
    n, k = weight.shape
    packed, padded = pack_weight(lib, weight), padded_bias(bias, n)

    def takes(a: torch.Tensor) -> bool:
        return a.dim() == 2 and 1 < a.shape[0] <= FEW_ROWS and a.shape[1] == k and a.dtype == torch.float32 and a.is_contiguous()

    def run(a: torch.Tensor) -> torch.Tensor:
        y = a.new_empty(a.shape[0], n)
        lib.jiasu_pointwise(a.data_ptr(), None, y.data_ptr(), a.shape[0], k, packed.data_ptr(), n, padded.data_ptr(), lo, hi, torch.get_num_threads())
        return y

    def native_call(a: torch.Tensor) -> NativeCall:
        values = (In(0), None, Out(0), a.shape[0], k, packed.data_ptr(), n, padded.data_ptr(), lo, hi, torch.get_num_threads())
        return NativeCall.of(lib, "jiasu_pointwise", values)

    run.takes, run.native_call = takes, native_call
    return run
