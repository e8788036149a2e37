import ctypes
import math
from typing import Optional

import torch

from ..base import Kernel
from ..conv.base import is_nhwc
from ..native.call import In, NativeCall, Out


def _library() -> Optional[ctypes.CDLL]:
    """``kernels/native/flatten.c`` with its argument types set, or None where it does not build here."""
    from ..native import typed

    n, p, i = ctypes.c_long, ctypes.c_void_p, ctypes.c_int
    return typed("flatten", {"jiasu_flatten_nhwc": ([p, n, n, n, p, i], i)})


class Flatten(Kernel):
    """2-D: dims before ``axis`` (default 1) make the rows, the rest the columns.

    Contiguous memory is reshaped as a view. A channels_last float32 image batch flattened at axis 1 (a
    network's last conv before its classifier) is transposed to channel-major order by jiasu's C loop
    (``kernels/native/flatten.c``), whose call a chain can run; anything else by ``torch.reshape``."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axis = int(self.attr("axis", 1))

    def run(self, x):
        call = self._transpose_call(x)
        if call is not None:
            n, c, h, w = x.shape
            y = torch.empty(n, c * h * w, dtype=x.dtype)
            call.invoke((x,), (y,))
            return (y,)
        axis = self.axis + x.dim() if self.axis < 0 else self.axis
        return (x.reshape(math.prod(x.shape[:axis]), -1),)

    def native_call(self, x):
        """A view of contiguous memory (nothing to run in a chain), or the C transposition of a channels_last batch."""
        return NativeCall.view(0) if x.is_contiguous() else self._transpose_call(x)

    def _transpose_call(self, x) -> Optional[NativeCall]:
        """The C transposition's call on ``x``, or None where it does not apply or does not build here."""
        lib = _library() if self._transposes(x) else None
        if lib is None:
            return None
        n, c, h, w = x.shape
        return NativeCall.of(lib, "jiasu_flatten_nhwc", (In(0), n, h * w, c, Out(0), torch.get_num_threads()))

    def _transposes(self, x) -> bool:
        """A channels_last (not contiguous) float32 image batch on the CPU, flattened after its batch dim."""
        return self.axis in (1, -3) and not x.is_contiguous() and is_nhwc(x)
