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
        if self._native_applies(xs):
            lib = _library()
            if lib is not None:
                n, _, h, w = xs[0].shape
                y = nhwc_output(xs[0], (n, sum(int(x.shape[1]) for x in xs), h, w))
                lib.jiasu_concat_channels(y.data_ptr(), n * h * w, torch.get_num_threads(), *self._inputs(xs, [x.data_ptr() for x in xs]))
                return (y,)
        return (torch.cat(xs, dim=self.axis),)

    def native_call(self, *xs):
        """The C loop's call on ``xs`` where it runs them."""
        lib = _library() if self._native_applies(xs) else None
        if lib is None:
            return None
        n, _, h, w = xs[0].shape
        values = (Out(0), n * h * w, torch.get_num_threads(), *self._inputs(xs, [In(k) for k in range(len(xs))]))
        return NativeCall.of(lib, "jiasu_concat_channels", values)

    @staticmethod
    def _inputs(xs, pointers) -> tuple:
        """The C loop's (count, then pointer and channels per input, padded with NULL and 0) arguments."""
        pairs = [(p, int(x.shape[1])) for p, x in zip(pointers, xs)] + [(None, 0)] * (NATIVE_MAX_INPUTS - len(xs))
        return (len(xs), *(v for pair in pairs for v in pair))

    def _native_applies(self, xs) -> bool:
        """Channels_last float32 images on the CPU, of one batch and size, joined along the channels."""
        if not 1 < len(xs) <= NATIVE_MAX_INPUTS or self.axis not in (1, -3):
            return False
        first = xs[0]
        return all(is_nhwc(x) and x.shape[0] == first.shape[0] and x.shape[2:] == first.shape[2:] for x in xs)
