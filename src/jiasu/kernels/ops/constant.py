import numpy as np
import torch

from ..base import Kernel, to_torch


class Constant(Kernel):
    """The value is built once; every run returns the same tensor (consumers must not modify it)."""

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        attrs = node.attributes
        if "value" in attrs:
            value = to_torch(attrs["value"].value, ctx.device)
        elif "value_float" in attrs:
            value = torch.tensor(attrs["value_float"].value, dtype=torch.float32)
        elif "value_floats" in attrs:
            value = torch.tensor(list(attrs["value_floats"].value), dtype=torch.float32)
        elif "value_int" in attrs:
            value = torch.tensor(attrs["value_int"].value, dtype=torch.int64)
        elif "value_ints" in attrs:
            value = torch.tensor(np.asarray(list(attrs["value_ints"].value), dtype=np.int64))
        else:
            from ...errors import UnsupportedOpError

            raise UnsupportedOpError(f"Constant node {node.name!r}: only tensor, float(s) and int(s) values are supported, got {sorted(attrs)}")
        self.value = value.to(ctx.device)

    def run(self):
        return (self.value,)
