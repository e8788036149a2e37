"""Graph helpers shared by the passes: constants, single consumers, new initializers, dead-code cleanup."""

from __future__ import annotations

from typing import Iterable, Optional

import numpy as np
import onnx_ir as ir

JIASU_DOMAIN = "jiasu"


def producer_through_identity(value: Optional[ir.Value]) -> Optional[ir.Value]:
    """``value`` with any chain of Identity nodes in front of it skipped."""
    while value is not None:
        node = value.producer()
        if node is None or node.op_type != "Identity" or node.domain != "" or not node.inputs:
            return value
        value = node.inputs[0]
    return value


def constant(value: Optional[ir.Value]) -> Optional[np.ndarray]:
    """The array behind ``value`` if it is constant (an initializer or a Constant node, through Identity), else None.

    An initializer that is also a graph input can be overridden at run time, so it does not count.
    """
    value = producer_through_identity(value)
    if value is None:
        return None
    if value.const_value is not None:
        if value.is_graph_input():
            return None
        return value.const_value.numpy()
    node = value.producer()
    if node is not None and node.op_type == "Constant" and node.domain == "" and len(node.attributes) == 1:
        attr = next(iter(node.attributes.values()))
        if attr.name == "value" and attr.type == ir.AttributeType.TENSOR:
            return attr.value.numpy()
        scalars = {"value_float": np.float32, "value_int": np.int64}
        if attr.name in scalars:
            return np.array(attr.value, dtype=scalars[attr.name])
        lists = {"value_floats": np.float32, "value_ints": np.int64}
        if attr.name in lists:
            return np.array(list(attr.value), dtype=lists[attr.name])
    return None


def sole_consumer(value: ir.Value) -> Optional[ir.Node]:
    """The one node that reads ``value`` (once), or None when it has other readers or is a graph output."""
    if value.is_graph_output():
        return None
    uses = list(value.uses())
    if len(uses) != 1:
        return None
    return uses[0].node


def consumers(value: ir.Value) -> list[ir.Node]:
    return list(dict.fromkeys(use.node for use in value.uses()))


def is_op(node: Optional[ir.Node], op_type: str, domain: str = "") -> bool:
    return node is not None and node.op_type == op_type and node.domain == domain


def attr_value(node: ir.Node, name: str, default=None):
    a = node.attributes.get(name)
    if a is None:
        return default
    return list(a.value) if isinstance(a.value, (tuple, list)) else a.value


def new_initializer(graph: ir.Graph, base_name: str, array: np.ndarray) -> ir.Value:
    """Register ``array`` as an initializer under a fresh name derived from ``base_name``."""
    name, i = base_name, 0
    taken = set(graph.initializers) | {v.name for n in graph for v in n.outputs} | {v.name for v in graph.inputs}
    while name in taken:
        i += 1
        name = f"{base_name}_{i}"
    value = ir.Value(name=name, shape=ir.Shape(array.shape), type=ir.TensorType(ir.DataType.from_numpy(array.dtype)))
    value.const_value = ir.tensor(array, name=name)
    graph.register_initializer(value)
    return value


def replace_pattern(graph: ir.Graph, nodes: Iterable[ir.Node], old: ir.Value, new: ir.Value) -> None:
    """Remove ``nodes`` (a matched pattern), whose result ``old`` is now computed as ``new``.

    Every reader of ``old`` (graph outputs included) reads ``new`` instead. A ``new``
    computed by a node takes ``old``'s name, so graph output names survive; graph
    inputs and initializers keep theirs (callers do not remove a pattern that joins
    one straight to a graph output).
    """
    renamed = new.producer() is not None and not new.is_graph_output()
    assert renamed or not old.is_graph_output(), "a graph output cannot become a graph input or initializer"
    ir.convenience.replace_all_uses_with(old, new, replace_graph_outputs=True)
    if new.type is None:
        new.type = old.type
    if new.shape is None:
        new.shape = old.shape
    graph.remove(list(nodes), safe=True)
    if renamed:
        name = old.name
        old.name = None
        new.name = name


def remove_dead(graph: ir.Graph, values: Iterable[Optional[ir.Value]]) -> int:
    """Remove the producers of ``values`` (and, transitively, of their inputs) once nothing reads them.

    Unused initializers among them are dropped too. Returns the number of nodes removed.
    Unlike a whole-graph dead-code pass this only touches what a rewrite just orphaned.
    """
    removed = 0
    stack = [v for v in values if v is not None]
    outputs = set(graph.outputs)
    while stack:
        value = stack.pop()
        if value.uses() or value in outputs:
            continue
        node = value.producer()
        if node is None:
            if value.is_initializer() and not value.is_graph_input():
                graph.initializers.pop(value.name, None)
            continue
        if node.graph is not graph or any(o.uses() or o in outputs for o in node.outputs):
            continue
        inputs = [v for v in node.inputs if v is not None]
        graph.remove(node, safe=True)
        removed += 1
        stack.extend(inputs)
    return removed


def use_jiasu_domain(model: ir.Model) -> None:
    """Declare the ``jiasu`` opset (version 1) that the fused ops live in."""
    model.opset_imports.setdefault(JIASU_DOMAIN, 1)


def infer_shapes(model: ir.Model) -> None:
    """Fill in value shapes with ONNX shape inference (jiasu-domain ops are skipped, their outputs keep what they had)."""
    import logging

    from onnx_ir.passes.common import ShapeInferencePass

    # ONNX's inference stops at the first jiasu-domain op (an int8 model after lowering) and onnx-ir
    # logs a traceback for it; that case is expected and leaves the graph as it was, so keep it quiet.
    logger = logging.getLogger("onnx_ir.passes.common.shape_inference")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        ShapeInferencePass(strict_mode=False)(model)
    finally:
        logger.setLevel(level)


def same_shape(a: Optional[ir.Shape], b: Optional[ir.Shape]) -> bool:
    """Both shapes fully known and equal (a named symbolic dim equals itself; unnamed ones equal nothing)."""
    if a is None or b is None or len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, int) or isinstance(y, int):
            if x != y:
                return False
        elif x.value is None or y.value is None or x.value != y.value or str(x.value).startswith("unk__"):
            return False
    return True


def fused_attributes(node: ir.Node, activation: str, params: list[float]) -> list[ir.Attr]:
    """``node``'s attributes (minus any previous activation) plus ``activation``/``activation_params``."""
    attrs = [ir.Attr(a.name, a.type, a.value) for a in node.attributes.values() if a.name not in ("activation", "activation_params")]
    return attrs + [ir.AttrString("activation", activation), ir.AttrFloat32s("activation_params", [float(p) for p in params])]
