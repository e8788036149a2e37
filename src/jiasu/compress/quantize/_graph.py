"""onnx-ir helpers for the quantizers: copy a model, add initializers, insert Q/DQ pairs."""

from __future__ import annotations

from typing import Optional

import numpy as np
import onnx_ir as ir

from ...errors import JiasuError
from ...frontends import copy_model


def clean(model: ir.Model) -> ir.Model:
    """Identity-free, dead-node-free copy: weights de-duplicated by the exporter reach their Conv/Gemm directly."""
    from ...passes.eliminate_identity import EliminateIdentity

    model = copy_model(model)
    EliminateIdentity()(model)
    return model


def opset(model: ir.Model) -> int:
    return int(model.opset_imports.get("", model.opset_imports.get("ai.onnx", 1)))


def require_opset(model: ir.Model, at_least: int, why: str) -> None:
    if opset(model) < at_least:
        raise JiasuError(
            f"{why} needs opset >= {at_least}, this model has opset {opset(model)}; re-export it "
            "(torch.onnx.export(..., opset_version=17)) or convert it with onnx.version_converter"
        )


def fresh_name(graph: ir.Graph, base: str, taken: Optional[set[str]] = None) -> str:
    taken = taken if taken is not None else names_in(graph)
    name, i = base, 0
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    taken.add(name)
    return name


def names_in(graph: ir.Graph) -> set[str]:
    return set(graph.initializers) | {v.name for n in graph for v in n.outputs} | {v.name for v in graph.inputs}


def add_initializer(graph: ir.Graph, base: str, array: np.ndarray, taken: set[str]) -> ir.Value:
    name = fresh_name(graph, base, taken)
    array = np.asarray(array)
    value = ir.Value(name=name, shape=ir.Shape(array.shape), type=ir.TensorType(ir.DataType.from_numpy(array.dtype)))
    value.const_value = ir.tensor(array, name=name)
    graph.register_initializer(value)
    return value


def const_array(value: Optional[ir.Value]) -> Optional[np.ndarray]:
    """The array of an initializer (not overridable as a graph input), else None."""
    if value is None or value.const_value is None or value.is_graph_input():
        return None
    return value.const_value.numpy()


def insert_after_producer(graph: ir.Graph, value: ir.Value, nodes: list[ir.Node]) -> None:
    producer = value.producer()
    if producer is None:
        graph.insert_before(graph[0], nodes) if len(graph) else graph.extend(nodes)
    else:
        graph.insert_after(producer, nodes)


def float_type(value: ir.Value) -> bool:
    return value.dtype in (None, ir.DataType.FLOAT)
