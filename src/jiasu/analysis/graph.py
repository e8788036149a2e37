"""Concrete shapes and constants of a model, the ground every count stands on.

:func:`prepare` reads an onnx-ir ``Model`` without changing it and returns a
:class:`Prepared` view:

* **batch**: a symbolic leading dim of every graph input becomes ``batch``.
* **constant nodes**: a node whose inputs are all known before the run
  (initializers, ``Constant`` nodes, and what is computed from them only: the
  exporter's shape arithmetic, ``Identity`` copies of weights, a
  ``DequantizeLinear`` of an int8 weight) is *constant*: it costs nothing at
  run time and its outputs are not activations. Small ones are evaluated with
  ``onnx.reference`` so that shape inference sees their values (a ``Pad``
  whose pads come out of a ``Concat``/``Transpose`` chain, say).
* **shapes**: ``onnx.shape_inference`` (with data propagation) on a weightless
  copy of the graph, so a 500 MB model is never copied.
* **parameters**: the non-scalar constant tensors of a parameter dtype
  (floating point, int8/uint8, int32) that the run-time nodes read, one count
  per distinct value. An ``Identity`` copy counts again: the exporter writes one
  when two separate parameters happen to hold equal values (zero biases of
  folded batch norms). Scalars (``Clip`` bounds, ``Pad`` values, per-tensor
  quantisation scales) are operator settings, not parameters, and int64
  tensors are shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import onnx
import onnx_ir as ir

Shape = Optional[tuple[int, ...]]

PARAMETER_DTYPES = frozenset(
    {ir.DataType.FLOAT, ir.DataType.FLOAT16, ir.DataType.BFLOAT16, ir.DataType.DOUBLE, ir.DataType.INT8, ir.DataType.UINT8, ir.DataType.INT32}
)
# Evaluate constant nodes whose inputs hold at most this many elements: shape arithmetic, not weights.
EVALUATE_LIMIT = 1 << 16
# Zero-input ops that are not constants.
_RANDOM_OPS = frozenset({"RandomNormal", "RandomUniform", "Multinomial", "Bernoulli", "RandomNormalLike", "RandomUniformLike"})


@dataclass
class Prepared:
    """A model seen at a concrete batch size: which nodes run, every value's shape, and the parameters."""

    model: ir.Model
    batch: int
    nodes: list[ir.Node]
    constant_nodes: list[ir.Node]
    shapes: dict[str, Shape]
    dtypes: dict[str, ir.DataType]
    constants: set[str]
    parameters: dict[str, int]
    warnings: list[str] = field(default_factory=list)

    def shape(self, value: Optional[ir.Value]) -> Shape:
        return None if value is None else self.shapes.get(value.name)


def numel(shape: Shape) -> int:
    return int(np.prod(shape, dtype=np.int64)) if shape is not None else 0


def itemsize(dtype: Optional[ir.DataType]) -> float:
    try:
        return float(dtype.itemsize) if dtype is not None else 4.0
    except (AttributeError, ValueError):
        return 4.0


def prepare(model: ir.Model, batch: int = 1) -> Prepared:
    """The :class:`Prepared` view of ``model`` at ``batch`` (see the module docstring)."""
    graph = model.graph
    warnings: list[str] = []
    values: dict[str, np.ndarray] = {}  # constants small enough to hand to shape inference
    constants: set[str] = set()
    for name, value in graph.initializers.items():
        constants.add(name)
        if value.const_value is not None and value.const_value.size <= EVALUATE_LIMIT:
            values[name] = value.const_value.numpy()

    nodes, constant_nodes, evaluated = [], [], set()
    opset = int(model.opset_imports.get("", 17))
    for node in graph:
        if not _is_constant(node, constants):
            nodes.append(node)
            continue
        constant_nodes.append(node)
        constants.update(o.name for o in node.outputs)
        result = _evaluate(node, values, opset)
        if result is not None:
            values.update(result)
            evaluated.add(id(node))

    shapes, dtypes = _infer(model, batch, values, constants, evaluated, warnings)
    parameters = {}
    for node in nodes:
        for v in node.inputs:
            if v is None or v.name not in constants or v.name in parameters:
                continue
            shape, dtype = shapes.get(v.name), dtypes.get(v.name)
            if dtype in PARAMETER_DTYPES and shape is not None and numel(shape) > 1:
                parameters[v.name] = numel(shape)
    return Prepared(model, batch, nodes, constant_nodes, shapes, dtypes, constants, parameters, warnings)


def _is_constant(node: ir.Node, constants: set[str]) -> bool:
    if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
        return True
    if not node.inputs or node.op_type in _RANDOM_OPS or any(isinstance(a.value, ir.Graph) for a in node.attributes.values()):
        return False
    return all(v is None or not v.name or v.name in constants for v in node.inputs)


def _evaluate(node: ir.Node, values: dict[str, np.ndarray], opset: int) -> Optional[dict[str, np.ndarray]]:
    """Outputs of a small constant node computed by ``onnx.reference``, or None where that is not possible."""
    inputs = [v for v in node.inputs if v is not None and v.name]
    if any(v.name not in values or values[v.name].size > EVALUATE_LIMIT for v in inputs):
        return None
    from onnx.reference import ReferenceEvaluator

    proto = ir.serde.serialize_node(node)
    feeds = {v.name: values[v.name] for v in inputs}
    graph = onnx.helper.make_graph(
        [proto],
        "constant",
        [onnx.helper.make_tensor_value_info(k, onnx.helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for k, a in feeds.items()],
        [onnx.helper.make_empty_tensor_value_info(o.name) for o in node.outputs],
    )
    domain_opsets = [onnx.helper.make_opsetid("", opset)]
    try:
        results = ReferenceEvaluator(onnx.helper.make_model(graph, opset_imports=domain_opsets)).run(None, feeds)
    except Exception:  # an op the reference lacks: shape inference does without the value
        return None
    results = {o.name: np.asarray(r) for o, r in zip(node.outputs, results)}
    # A large result (a weight held in a Constant node) stays a node: shape inference reads its shape.
    return results if all(r.size <= EVALUATE_LIMIT for r in results.values()) else None


def _infer(
    model: ir.Model, batch: int, values: dict[str, np.ndarray], constants: set[str], evaluated: set[int], warnings: list[str]
) -> tuple[dict[str, Shape], dict[str, ir.DataType]]:
    """Shapes and dtypes of every value, from ONNX shape inference on a weightless copy of the graph."""
    graph = model.graph
    inputs = []
    batch_names: set[str] = set()  # the symbolic names of the batch axis
    for v in graph.inputs:
        if v.name in graph.initializers:
            continue
        proto = ir.serde.serialize_value(v)
        dims = proto.type.tensor_type.shape.dim
        for axis, d in enumerate(dims):
            if d.HasField("dim_param") or not d.HasField("dim_value"):
                if axis == 0:
                    if d.HasField("dim_param"):
                        batch_names.add(d.dim_param)
                    d.Clear()
                    d.dim_value = batch
                else:
                    warnings.append(f"input {v.name!r} has a symbolic dim at axis {axis}; shapes that depend on it are unknown")
        inputs.append(proto)
    initializers = []
    for name in constants:
        if name in values:
            initializers.append(onnx.numpy_helper.from_array(values[name], name))
        elif name in graph.initializers:
            v = graph.initializers[name]
            dims = list(v.shape) if v.shape is not None else None
            inputs.append(onnx.helper.make_tensor_value_info(name, int(v.dtype or ir.DataType.FLOAT), dims))
    nodes = [ir.serde.serialize_node(n) for n in graph if id(n) not in evaluated]
    outputs = [onnx.helper.make_tensor_value_info(v.name, int(v.dtype) if v.dtype is not None else 0, None) for v in graph.outputs]
    # ONNX knows no schema for jiasu's own ops (the passes' FusedConv and FusedGemm, the int8 kernels): it
    # infers nothing for their outputs, and so nothing for any node after them. It does carry a shape given
    # as value_info through such a node, so their outputs keep the shapes the passes declared, batch set.
    declared = [
        info
        for node in graph
        if node.domain not in ("", "ai.onnx")
        for info in (_declared(v, batch, batch_names) for v in node.outputs)
        if info is not None
    ]
    light = onnx.helper.make_model(
        onnx.helper.make_graph(nodes, "shapes", inputs, outputs, initializer=initializers, value_info=declared),
        opset_imports=[onnx.helper.make_opsetid(d, int(vv)) for d, vv in model.opset_imports.items()],
        ir_version=max(model.ir_version or 8, 8),
    )
    try:
        light = onnx.shape_inference.infer_shapes(light, strict_mode=False, data_prop=True)
    except Exception as e:  # a malformed graph: count what the declared shapes allow
        warnings.append(f"ONNX shape inference failed ({type(e).__name__}: {str(e).splitlines()[0]}); counts use declared shapes only")
    shapes: dict[str, Shape] = {}
    dtypes: dict[str, ir.DataType] = {}
    for info in [*light.graph.input, *light.graph.value_info, *light.graph.output]:
        t = info.type.tensor_type
        dtypes[info.name] = ir.DataType(t.elem_type)
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            shapes[info.name] = tuple(int(d.dim_value) for d in t.shape.dim)
        else:
            shapes.setdefault(info.name, None)
    for init in light.graph.initializer:
        shapes[init.name] = tuple(init.dims)
        dtypes[init.name] = ir.DataType(init.data_type)
    # Values inference left alone keep what the model declares.
    for node in graph:
        for v in node.outputs:
            if shapes.get(v.name) is None and v.shape is not None and all(isinstance(d, int) for d in v.shape):
                shapes[v.name] = tuple(v.shape)
            if v.name not in dtypes and v.dtype is not None:
                dtypes[v.name] = v.dtype
    return shapes, dtypes


def _declared(value: ir.Value, batch: int, batch_names: set[str]) -> Optional[onnx.ValueInfoProto]:
    """``value``'s declared type and shape with the batch axis set, or None where a dim stays unknown."""
    if value.shape is None or value.dtype is None:
        return None
    dims = []
    for d in value.shape:
        if isinstance(d, int):
            dims.append(d)
        elif d.value in batch_names:
            dims.append(batch)
        else:
            return None
    return onnx.helper.make_tensor_value_info(value.name, int(value.dtype), dims)
