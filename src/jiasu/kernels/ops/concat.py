import ctypes
from typing import Optional

import torch

from ..base import Kernel
from ..conv.base import is_nhwc, nhwc_output
from ..native.call import In, NativeCall, Out

#: The most inputs the C concat takes (``CONCAT_MAX`` in ``kernels/native/concat.c``).
NATIVE_MAX_INPUTS = 8


def _library() -> Optional[ctypes.CDLL]:
    """``kernels/native/concat.c`` with its argument types set, or None where it does not build here."""
    from ..native import typed

    i, p, n = ctypes.c_int, ctypes.c_void_p, ctypes.c_long
    return typed("concat", {"jiasu_concat_channels": ([p, n, i, i] + [p, i] * NATIVE_MAX_INPUTS, i)})


class Concat(Kernel):
    """Inputs joined along ``axis``. Channels_last float32 images joined along their channels (googlenet's
    inception branches) take jiasu's C loop (``kernels/native/concat.c``), whose call a chain can run;
    anything else ``torch.cat``."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axis = int(self.attr("axis"))

    def run(self, *xs):
        call = self.native_call(*xs)
        if call is not None:
            n, _, h, w = xs[0].shape
            y = nhwc_output(xs[0], (n, sum(int(x.shape[1]) for x in xs), h, w))
            call.invoke(xs, (y,))
            return (y,)
        return (torch.cat(xs, dim=self.axis),)

    def native_call(self, *xs):
        """The C loop's call on ``xs`` where it runs them."""
        lib = _library() if self._native_applies(xs) else None
        if lib is None:
            return None
        n, _, h, w = xs[0].shape
        # the count, then each input's pointer and channels, padded with NULL and 0
        pairs = [(In(k), int(x.shape[1])) for k, x in enumerate(xs)] + [(None, 0)] * (NATIVE_MAX_INPUTS - len(xs))
        values = (Out(0), n * h * w, torch.get_num_threads(), len(xs), *(v for pair in pairs for v in pair))
        return NativeCall.of(lib, "jiasu_concat_channels", values)

    def _native_applies(self, xs) -> bool:
        """Channels_last float32 images on the CPU, of one batch and size, joined along the channels."""
        if not 1 < len(xs) <= NATIVE_MAX_INPUTS or self.axis not in (1, -3):
            return False
        first = xs[0]
        return all(is_nhwc(x) and x.shape[0] == first.shape[0] and x.shape[2:] == first.shape[2:] for x in xs)
