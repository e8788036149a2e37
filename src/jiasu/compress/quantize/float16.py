"""FP16 and BF16: half the bytes per weight, and half-precision arithmetic where the backend has it.

``convert_float(model, "fp16" | "bf16", compute=...)``:

- ``compute=True``: every float32 tensor of the graph (initializers, intermediate values, Constant
  nodes, Cast targets) becomes the 16-bit type; the graph's inputs and outputs stay float32 with one
  Cast after each input and before each output, so callers feed and read float32 as before. jiasu's
  engine then runs every op in that type (torch's bf16 convolutions use oneDNN's AVX-512 BF16 path).
- ``compute=False`` (weight-only storage): only the initializers are stored in 16 bits, each read
  through a Cast to float32, so any backend runs the model (ONNX Runtime's CPU provider has few
  fp16/bf16 kernels and folds these Casts at load); the file is half the size, the arithmetic float32.

16-bit floats keep float32's dynamic range in BF16 (8 exponent bits) but not in FP16 (max 65504):
values outside FP16's range are clipped with a count in the returned report, never silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import ml_dtypes
import numpy as np
import onnx_ir as ir

from ...errors import JiasuError
from ._graph import add_initializer, clean, fresh_name, names_in

FLOAT_TYPES: dict[str, tuple[ir.DataType, type]] = {
    "fp16": (ir.DataType.FLOAT16, np.float16),
    "bf16": (ir.DataType.BFLOAT16, ml_dtypes.bfloat16),
}


@dataclass
class FloatReport:
    dtype: str
    compute: bool
    converted: int  # initializers converted
    clipped: int  # elements outside the target range (fp16 only)


def _convert_array(a: np.ndarray, np_type) -> tuple[np.ndarray, int]:
    clipped = 0
    if np_type is np.float16:
        big = np.abs(a) > 65504.0
        clipped = int(np.count_nonzero(big & np.isfinite(a)))
        a = np.clip(a, -65504.0, 65504.0) if clipped else a
    return a.astype(np_type), clipped


def convert_float(model: ir.Model, dtype: str = "fp16", *, compute: bool = True) -> tuple[ir.Model, FloatReport]:
    """A copy of ``model`` in ``dtype`` (see the module docstring) and what changed."""
    if dtype not in FLOAT_TYPES:
        raise JiasuError(f"unknown float type {dtype!r}; choose one of: {', '.join(FLOAT_TYPES)}")
    ir_type, np_type = FLOAT_TYPES[dtype]
    model = clean(model)
    graph = model.graph
    taken = names_in(graph)
    converted = clipped = 0
    if not compute:
        for name, value in list(graph.initializers.items()):
            if value.dtype != ir.DataType.FLOAT or value.const_value is None or value.is_graph_input():
                continue
            half, n = _convert_array(value.const_value.numpy(), np_type)
            clipped += n
            stored = add_initializer(graph, f"{name}_{dtype}", half, taken)
            out = ir.Value(name=fresh_name(graph, f"{name}_{dtype}_float", taken), type=ir.TensorType(ir.DataType.FLOAT), shape=value.shape)
            value.replace_all_uses_with(out)
            cast = ir.Node("", "Cast", [stored], [ir.AttrInt64("to", int(ir.DataType.FLOAT))], outputs=[out], name=fresh_name(graph, f"{name}_Cast", taken))
            graph.insert_before(graph[0], [cast]) if len(graph) else graph.append(cast)
            graph.initializers.pop(name)
            converted += 1
        return model, FloatReport(dtype, compute, converted, clipped)

    # full conversion: initializers, Constant nodes and Cast targets, then value types
    for name, value in graph.initializers.items():
        if value.dtype == ir.DataType.FLOAT and value.const_value is not None:
            half, n = _convert_array(value.const_value.numpy(), np_type)
            clipped += n
            value.const_value = ir.tensor(half, name=name)
            value.type = ir.TensorType(ir_type)
            converted += 1
    for node in graph:
        if node.op_type == "Constant" and "value" in node.attributes and node.attributes["value"].value.dtype == ir.DataType.FLOAT:
            half, _ = _convert_array(node.attributes["value"].value.numpy(), np_type)
            node.attributes["value"] = ir.AttrTensor("value", ir.tensor(half))
        for attr in ("to",):
            if node.op_type in ("Cast", "RandomNormal", "RandomUniform", "EyeLike") and attr in node.attributes and node.attributes[attr].value == int(ir.DataType.FLOAT):
                node.attributes[attr] = ir.AttrInt64(attr, int(ir_type))
        for v in node.outputs:
            if v.dtype == ir.DataType.FLOAT:
                v.type = ir.TensorType(ir_type)
    # float32 at the boundary
    for i, value in enumerate(list(graph.inputs)):
        if value.dtype != ir.DataType.FLOAT or value.name in graph.initializers:
            continue
        half = ir.Value(name=fresh_name(graph, f"{value.name}_{dtype}", taken), type=ir.TensorType(ir_type), shape=value.shape)
        value.replace_all_uses_with(half)
        cast = ir.Node("", "Cast", [value], [ir.AttrInt64("to", int(ir_type))], outputs=[half], name=fresh_name(graph, f"{value.name}_Cast", taken))
        graph.insert_before(graph[0], [cast])
    for i, value in enumerate(list(graph.outputs)):
        if value.dtype != ir_type:
            continue
        name = value.name
        value.name = fresh_name(graph, f"{name}_{dtype}", taken)
        out = ir.Value(name=name, type=ir.TensorType(ir.DataType.FLOAT), shape=value.shape)
        graph.append(ir.Node("", "Cast", [value], [ir.AttrInt64("to", int(ir.DataType.FLOAT))], outputs=[out], name=fresh_name(graph, f"{name}_Cast", taken)))
        graph.outputs[i] = out
    return model, FloatReport(dtype, compute, converted, clipped)
