import math

from ..base import Kernel
from ..native.call import NativeCall


class Flatten(Kernel):
    """2-D: dims before ``axis`` (default 1) make the rows, the rest the columns."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.axis = int(self.attr("axis", 1))

    def run(self, x):
        axis = self.axis + x.dim() if self.axis < 0 else self.axis
        return (x.reshape(math.prod(x.shape[:axis]), -1),)

    def native_call(self, x):
        """A view of contiguous memory: nothing to run in a chain."""
        return NativeCall.view(0) if x.is_contiguous() else None
