"""``jiasu::InvertedResidual``: a mobilenet block (1x1 expand, 3x3 depthwise, 1x1 project) as one node.

Written by ``jiasu.passes.fuse_inverted_residual``. Inputs ``X, We?, Be?, Wd, Bd?, Wp, Bp?, Z?``;
attributes ``stride`` (the depthwise conv's, 1 or 2) and ``clamps`` (six floats: ``lo, hi`` of the
expand, the depthwise and the project, +-inf where open). Computes::

    E = clamp(Conv(X, We, Be), lo1, hi1)                    (E = X without We)
    D = clamp(Conv(E, Wd, Bd, group=C, pads=1, strides=stride), lo2, hi2)
    Y = clamp(Conv(D, Wp, Bp) + Z, lo3, hi3)

On CPU float32 it runs ``kernels/native/inverted_residual.c``: each thread expands only the rows
of E the depthwise windows of a few output rows need, so the 6x-wide E and D stay in L2 instead of
making a round trip through memory each (measured in ``benchmarks/inverted_residual.py``). Elsewhere
(another device or dtype, or where the C kernels do not build) it runs the three convolutions in torch;
``Engine.node_times`` names which ran (``c`` or ``torch``).
"""

from __future__ import annotations

import ctypes
from typing import Optional

import torch
import torch.nn.functional as F

from ...errors import JiasuError
from ..base import Kernel
from ..conv.base import is_nhwc, nhwc_operands, nhwc_output
from ..conv.pointwise import _library as _pointwise_library
from ..conv.pointwise import pack_weight, padded_bias
from ..native import fixed_arguments
from ..native.call import In, NativeCall, Out


def _library() -> Optional[ctypes.CDLL]:
    """The C kernels with argument types set, or None where they do not build here."""
    from ..native import typed

    i, p, f = ctypes.c_int, ctypes.c_void_p, ctypes.c_float
    # x, z, y first (they change from call to call), then what stays fixed for an input shape
    signature = [p, p, p, i, i, i, i, p, i, p, f, f, p, p, i, f, f, p, i, p, f, f, i]
    return typed(
        "inverted_residual",
        {"jiasu_inverted_residual": (signature, i), "jiasu_inverted_residual_workspace": ([i] * 8, ctypes.c_long)},
    )


class InvertedResidual(Kernel):
    """One fused block; weights packed at load time for the C kernel (see the module docstring)."""

    domain = "jiasu"

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.stride = int(self.attr("stride", 1))
        clamps = [float(c) for c in self.attr("clamps", [])]
        if len(clamps) != 6 or self.stride not in (1, 2):
            raise JiasuError(f"{self.describe()}: needs stride 1 or 2 and six clamps, got stride {self.stride} and {len(clamps)} clamps")
        self.clamps = [tuple(clamps[k : k + 2]) for k in (0, 2, 4)]
        self.we, self.be = self.const_input(1), self.const_input(2)
        self.wd, self.bd = self.const_input(3), self.const_input(4)
        self.wp, self.bp = self.const_input(5), self.const_input(6)
        if self.wd is None or self.wp is None or (self.has_input(1) and self.we is None):
            raise JiasuError(f"{self.describe()}: its weights must be constants (the fusion pass only fuses such blocks)")
        self.hid, self.cout = int(self.wd.shape[0]), int(self.wp.shape[0])
        self.cin = int(self.we.shape[1]) if self.we is not None else self.hid
        self._calls: dict[tuple, tuple] = {}
        self._c = None
        lib = _library() if self.wp.device.type == "cpu" and self.wp.dtype == torch.float32 and self.hid % 16 == 0 else None
        pointwise = _pointwise_library() if lib is not None else None
        if lib is not None and pointwise is not None:
            self._lib, self._c = lib, lib.jiasu_inverted_residual
            self._packed = self._pack(pointwise)

    def algorithm_for(self, x: torch.Tensor) -> str:
        """What runs on input ``x`` (``Engine.node_times`` lists it): ``c``, or ``torch`` off CPU float32 or
        where the C kernels do not build. Not a conv algorithm choice: the plan and tuning do not see it."""
        return "c" if self._runs_c(x) else "torch"

    def _runs_c(self, x: torch.Tensor) -> bool:
        return self._c is not None and x.dtype == torch.float32 and x.device.type == "cpu"

    def _pack(self, pointwise) -> tuple:
        """Weights as the C loop reads them: 1x1 weights in pointwise panels, biases padded to whole vectors,
        the depthwise weight (3, 3, C)."""
        we = pack_weight(pointwise, self.we) if self.we is not None else None
        wd = self.wd.reshape(self.hid, 9).t().contiguous()
        wp = pack_weight(pointwise, self.wp)
        return we, padded_bias(self.be, self.hid), wd, padded_bias(self.bd, self.hid), wp, padded_bias(self.bp, self.cout)

    def _fixed_for(self, x: torch.Tensor) -> tuple:
        """The C call's fixed arguments for ``x``'s shape at torch's thread count, made once."""
        key = (x.shape, torch.get_num_threads())
        fixed = self._calls.get(key)
        if fixed is None:
            fixed = self._calls[key] = self._fixed(*key)
        return fixed

    def _fixed(self, shape: tuple, threads: int) -> tuple:
        n, c, h, w = shape
        we, be, wd, bd, wp, bp = self._packed
        (lo1, hi1), (lo2, hi2), (lo3, hi3) = self.clamps
        ptr = [t.data_ptr() if t is not None else None for t in (we, be, wd, bd, wp, bp)]  # self._packed keeps them alive
        values = (n, h, w, c, ptr[0], self.hid, ptr[1], lo1, hi1, ptr[2], ptr[3], self.stride, lo2, hi2, ptr[4], self.cout, ptr[5], lo3, hi3, threads)
        return fixed_arguments(self._c, values, 3)

    def out_shape(self, shape) -> tuple[int, int, int, int]:
        n, _, h, w = shape
        return n, self.cout, (h - 1) // self.stride + 1, (w - 1) // self.stride + 1

    def workspace_bytes(self, x: torch.Tensor) -> int:
        """The bytes the C kernel allocates for its row buffers while it runs on ``x`` (0 for the torch path,
        whose intermediates torch allocates and frees inside the node)."""
        if not self._runs_c(x):
            return 0
        n, _, h, w = x.shape
        floats = _library().jiasu_inverted_residual_workspace(
            n, h, w, self.hid, self.cout, int(self.we is not None), self.stride, torch.get_num_threads()
        )
        return int(floats) * 4

    def native_call(self, x, we=None, be=None, wd=None, bd=None, wp=None, bp=None, z=None):
        """``run``'s C call on ``x`` and the residual ``z`` (input 7), where it makes nothing else."""
        if not self._runs_c(x) or not is_nhwc(x) or x.shape[1] != self.cin:
            return None
        out = self.out_shape(x.shape)
        if z is not None and (not is_nhwc(z) or tuple(z.shape) != out):
            return None
        return NativeCall.of(self._lib, "jiasu_inverted_residual", (In(0), In(7) if z is not None else None, Out(0), *self._fixed_for(x)))

    def run(self, x, we=None, be=None, wd=None, bd=None, wp=None, bp=None, z=None):
        if x.dim() != 4:
            raise ValueError(f"{self.describe()}: expects an NCHW input, got shape {tuple(x.shape)}")
        if not self._runs_c(x):
            return (self._torch(x, z),)
        out = self.out_shape(x.shape)
        xh, zh = nhwc_operands("InvertedResidual", x, z, self.cin, out)
        y = nhwc_output(xh, out)
        if self._c(xh.data_ptr(), zh.data_ptr() if zh is not None else None, y.data_ptr(), *self._fixed_for(x)) != 0:
            raise MemoryError(f"{self.describe()}: the C kernel could not allocate its row buffers")
        return (y,)

    def _torch(self, x, z):
        """The block as three torch convolutions: off CPU float32, or where the C kernels do not build."""
        x32 = x.to(self.wd.dtype)
        e = x32
        if self.we is not None:
            e = F.conv2d(x32, self.we, self.be).clamp_(*self.clamps[0])
        d = F.conv2d(e, self.wd, self.bd, self.stride, 1, 1, self.hid).clamp_(*self.clamps[1])
        y = F.conv2d(d, self.wp, self.bp)
        if z is not None:
            y = y + z.to(y.dtype)
        return y.clamp_(*self.clamps[2])
