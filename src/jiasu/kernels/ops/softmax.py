import ctypes
import math
from typing import Optional

import torch

from ..base import Kernel
from ..native.call import In, NativeCall, Out

#: The most elements jiasu's C softmax takes (``kernels/native/softmax.c``, scalar ``expf``): a classifier's
#: output at small batches. Above it torch's vectorized, threaded softmax is faster than one more chain step gains.
NATIVE_MAX_ELEMENTS = 1 << 14


def _library() -> Optional[ctypes.CDLL]:
    """``kernels/native/softmax.c`` with its argument types set, or None where it does not build here."""
    from ..native import typed

    n, p = ctypes.c_long, ctypes.c_void_p
    return typed("softmax", {"jiasu_softmax_rows": ([p, n, n, p], ctypes.c_int)})


class Softmax(Kernel):
    """Since opset 13 along one axis (default -1); before, over the 2-D coercion at ``axis`` (default 1).

    Small contiguous float32 CPU inputs along their last axis (or, before opset 13, any contiguous coercion) take
    jiasu's C loop, whose call a chain can run (a classifier's softmax joins the chain before it); the rest
    ``torch.softmax``."""

    fn = staticmethod(torch.softmax)
    #: whether ``fn`` is what the C loop computes (LogSoftmax, a subclass, is not)
    native = True

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.legacy = ctx.opset < 13
        self.axis = int(self.attr("axis", 1 if self.legacy else -1))

    def run(self, x):
        call = self.native_call(x)
        if call is not None:
            y = torch.empty_like(x, memory_format=torch.contiguous_format)
            call.invoke((x,), (y,))
            return (y,)
        if not self.legacy:
            return (self.fn(x, self.axis),)
        axis = self.axis + x.dim() if self.axis < 0 else self.axis
        flat = x.reshape(math.prod(x.shape[:axis]), -1)
        return (self.fn(flat, 1).reshape(x.shape),)

    def native_call(self, x):
        """The C loop's call on ``x`` where it runs it."""
        rows = self._rows(x)
        lib = _library() if rows is not None else None
        if lib is None:
            return None
        return NativeCall.of(lib, "jiasu_softmax_rows", (In(0), rows, x.numel() // rows, Out(0)))

    def _rows(self, x) -> Optional[int]:
        """The rows the C loop would take ``x`` as (each a run of contiguous memory it normalizes), or None where it does not apply."""
        if not self.native or x.dtype != torch.float32 or x.device.type != "cpu" or not x.is_contiguous() or x.dim() == 0:
            return None
        if not 0 < x.numel() <= NATIVE_MAX_ELEMENTS:
            return None
        axis = self.axis + x.dim() if self.axis < 0 else self.axis
        if not self.legacy and axis != x.dim() - 1:
            return None
        return math.prod(x.shape[:axis])
