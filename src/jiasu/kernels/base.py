"""The contract every operator kernel implements.

A kernel is built once per graph node (``__init__`` reads attributes and may
precompute from constant inputs) and then called on every run with the node's
inputs as torch tensors (``None`` for an omitted optional input). ``run`` must
return a tuple with one tensor per node output, and must not modify its inputs
unless the plan says it may.

Kernels are device-agnostic: they use torch ops on whatever device the inputs
live on, and create helper tensors on that device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import onnx_ir as ir
import torch

from ..errors import JiasuError

# ONNX element types our engine computes in. Others (strings, float8, complex)
# are refused at load time with the op name, rather than failing mid-run.
TORCH_DTYPES: dict[ir.DataType, torch.dtype] = {
    ir.DataType.FLOAT: torch.float32,
    ir.DataType.DOUBLE: torch.float64,
    ir.DataType.FLOAT16: torch.float16,
    ir.DataType.BFLOAT16: torch.bfloat16,
    ir.DataType.INT8: torch.int8,
    ir.DataType.UINT8: torch.uint8,
    ir.DataType.INT16: torch.int16,
    ir.DataType.INT32: torch.int32,
    ir.DataType.INT64: torch.int64,
    ir.DataType.BOOL: torch.bool,
}


def torch_dtype(dtype: ir.DataType | int) -> torch.dtype:
    """Torch dtype for an ONNX element type; a JiasuError naming the type if we have none."""
    dtype = ir.DataType(dtype)
    try:
        return TORCH_DTYPES[dtype]
    except KeyError:
        supported = ", ".join(d.name for d in TORCH_DTYPES)
        raise JiasuError(f"element type {dtype.name} is not supported by jiasu's engine; supported: {supported}") from None


def to_torch(array: Any, device: torch.device | str = "cpu") -> torch.Tensor:
    """A torch tensor from a numpy array, an onnx-ir tensor, or a tensor (no copy where possible)."""
    if isinstance(array, torch.Tensor):
        return array.to(device)
    if type(array) is np.ndarray and array.dtype.kind in "fiub" and array.flags.writeable:
        # the common case, a model's input, checked cheaply (numpy's dtype.name alone takes a microsecond)
        tensor = torch.from_numpy(array)
        return tensor if torch.device(device).type == "cpu" else tensor.to(device)
    # ndarray first: isinstance against the runtime-checkable ir.TensorProtocol probes every
    # attribute of the protocol, 25 us per call here, a tenth of a small model's run.
    if not isinstance(array, np.ndarray) and isinstance(array, ir.TensorProtocol):
        array = array.numpy()
    array = np.asarray(array)
    if array.dtype.name == "bfloat16":  # ml_dtypes' bfloat16 (bf16 initializers): torch.from_numpy has no such type
        return torch.from_numpy(np.ascontiguousarray(array).view(np.int16).copy()).view(torch.bfloat16).to(device)
    if not array.flags.writeable:
        array = array.copy()  # torch.from_numpy warns on read-only buffers
    return torch.from_numpy(array).to(device)


@dataclass
class BuildContext:
    """What a kernel may know when it is built: device, opset and engine options."""

    device: torch.device
    opset: int
    options: dict[str, Any] = field(default_factory=dict)
    #: constant tensors by value name, shared by the engine and every kernel so
    #: each initializer lives on the device once.
    constants: dict[str, torch.Tensor] = field(default_factory=dict)
    # Filled by kernels that make a choice worth reporting (Conv's algorithm).
    choice: Optional[str] = None
    reason: Optional[str] = None


class Kernel:
    """Base class for one ONNX operator. Subclasses are named after the op type."""

    #: ONNX domain this kernel serves ("" is the default ai.onnx domain).
    domain: str = ""

    def __init__(self, node: ir.Node, ctx: BuildContext):
        self.node = node
        self.ctx = ctx

    @classmethod
    def op_type(cls) -> str:
        return cls.__name__

    # ---- helpers for subclasses -------------------------------------------------
    def attr(self, name: str, default: Any = None) -> Any:
        """Attribute value (ints/floats/strings/lists as Python values) or ``default``."""
        a = self.node.attributes.get(name)
        if a is None:
            return default
        value = a.value
        if isinstance(value, ir.TensorProtocol):
            return value
        if isinstance(value, (tuple, list)):
            return list(value)
        return value

    def const_input(self, index: int) -> Optional[torch.Tensor]:
        """Input ``index`` as a tensor if it is a constant, else None.

        Looks through Identity nodes: the TorchScript exporter feeds de-duplicated
        initializers (equal biases, say) to their users through Identity, and a
        weight must still count as constant for load-time transforms to apply.
        An initializer that is also a graph input is not constant: a feed may
        override it (as in ONNX Runtime, and in ``jiasu.passes``).
        """
        if index >= len(self.node.inputs):
            return None
        value = self.node.inputs[index]
        while value is not None and value.const_value is None:
            producer = value.producer()
            if producer is None or producer.op_type != "Identity" or producer.domain != "":
                return None
            value = producer.inputs[0]
        if value is None or value.is_graph_input():
            return None
        tensor = self.ctx.constants.get(value.name)
        if tensor is None:
            tensor = self.ctx.constants[value.name] = to_torch(value.const_value, self.ctx.device)
        return tensor

    def has_input(self, index: int) -> bool:
        return index < len(self.node.inputs) and self.node.inputs[index] is not None and self.node.inputs[index].name != ""

    def run(self, *inputs: Optional[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        raise NotImplementedError(f"{type(self).__name__}.run")

    def native_call(self, *inputs: Optional[torch.Tensor]):
        """The one C call ``run`` makes on these inputs, as data (``kernels/native/call.py``), or None.

        For chains (``jiasu.runtime.chain``). None unless ``run`` on inputs of these shapes, strides
        and dtypes does nothing but that call into a freshly allocated output: a kernel that copies an
        input to another layout, or runs an activation after the call, has none to offer.
        """
        return None

    def describe(self) -> str:
        return f"{self.node.op_type} node {self.node.name!r}"
