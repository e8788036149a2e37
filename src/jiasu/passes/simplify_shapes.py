"""Turn shape arithmetic on statically known dims into constants, and tidy the Reshapes it feeds."""

from __future__ import annotations

import math
from collections import Counter
from typing import Optional, Union

import numpy as np
import onnx_ir as ir

from ._graph import attr_value, constant, infer_shapes, is_op, new_initializer, remove_dead, replace_pattern
from .base import JiasuPass

# A dim is an int, or a key standing for one unknown size: ("name", "batch") for a
# named symbolic dim (equal wherever the name appears), ("dim", id, axis) for an
# anonymous one (equal only to itself).
Dim = Union[int, tuple]


class SimplifyShapes(JiasuPass):
    """Rules (shapes come from ONNX shape inference plus the Reshapes this pass resolves):

    1. shape arithmetic is evaluated symbolically: ``Shape`` (with start/end),
       ``Gather`` (constant indices, axis 0), ``Unsqueeze``/``Squeeze`` (axis 0),
       ``Concat`` (axis 0), ``Slice`` (constant, axis 0), ``Cast`` and ``Identity``
       of int64 shape vectors;
    2. a shape vector that is fully static becomes an initializer;
    3. a ``Reshape`` whose target holds only static dims and dims copied from the
       same position of its own input (the TorchScript exporter's
       ``Shape -> Gather -> Unsqueeze -> Concat -> Reshape`` for ``x.view(x.size(0), -1)``)
       gets a constant target, with 0 ("copy this dim") for the copied ones;
    4. a ``Reshape`` to its input's own shape is removed; one to ``[d0, -1]``
       becomes ``Flatten(axis=1)``.
    The shape computations these rules orphan are removed.
    """

    name = "simplify_shapes"

    def rewrite(self, model: ir.Model) -> None:
        graph = model.graph
        infer_shapes(model)
        self.dims: dict[ir.Value, Optional[list[Dim]]] = {}
        symbolic: dict[ir.Value, list[Dim]] = {}  # value -> elements of the int64 vector it holds
        scalars: set[ir.Value] = set()
        for node in list(graph):
            if node.graph is not graph:
                continue
            if is_op(node, "Reshape"):
                self._reshape(graph, node, symbolic)
                continue
            result = self._evaluate(node, symbolic, scalars)
            if result is None:
                continue
            elements, scalar = result
            symbolic[node.outputs[0]] = elements
            if scalar:
                scalars.add(node.outputs[0])
        # Rule 2, at the end of each chain only: a static vector read by something we did not evaluate.
        for value, elements in symbolic.items():
            producer = value.producer()
            if producer is None or producer.graph is not graph or value.is_graph_output():
                continue
            if not all(isinstance(e, int) for e in elements) or constant(value) is not None:
                continue
            if all(use.node.outputs and use.node.outputs[0] in symbolic for use in value.uses()):
                continue
            array = np.array(elements[0] if value in scalars else elements, dtype=np.int64)
            ir.convenience.replace_all_uses_with(value, new_initializer(graph, f"{value.name}_static", array))
            remove_dead(graph, [value])
            self.count("made {} shape computations constant")

    # ---- shapes --------------------------------------------------------------------
    def _dims(self, value: Optional[ir.Value]) -> Optional[list[Dim]]:
        if value is None:
            return None
        if value in self.dims:
            return self.dims[value]
        if value.shape is None:
            return None
        dims: list[Dim] = []
        for axis, d in enumerate(value.shape):
            if isinstance(d, int):
                dims.append(d)
            elif d.value is not None and not str(d.value).startswith("unk__"):
                dims.append(("name", d.value))
            else:
                dims.append(("dim", id(value), axis))
        return dims

    # ---- rule 1: symbolic evaluation of int64 shape vectors -------------------------------
    def _evaluate(self, node: ir.Node, symbolic: dict, scalars: set) -> Optional[tuple[list[Dim], bool]]:
        if node.domain != "" or len(node.outputs) != 1:
            return None
        op, ins = node.op_type, node.inputs

        def vector(v):
            if v is None:
                return None
            if v in symbolic:
                return symbolic[v], v in scalars
            c = constant(v)
            if c is not None and c.dtype == np.int64 and c.ndim <= 1:
                return [int(x) for x in c.reshape(-1)], c.ndim == 0
            return None

        if op == "Shape":
            dims = self._dims(ins[0])
            if dims is None:
                return None
            start, end = attr_value(node, "start", 0), attr_value(node, "end", None)
            return dims[start:end], False
        if op in ("Identity", "Cast") and ins:
            if op == "Cast" and attr_value(node, "to") != ir.DataType.INT64:
                return None
            return vector(ins[0])
        if op == "Gather" and attr_value(node, "axis", 0) == 0 and len(ins) == 2:
            data, idx = vector(ins[0]), constant(ins[1])
            if data is None or data[1] or idx is None or idx.ndim > 1:
                return None
            picked = [data[0][int(i)] for i in idx.reshape(-1) if -len(data[0]) <= int(i) < len(data[0])]
            if len(picked) != idx.size:
                return None
            return picked, idx.ndim == 0
        if op in ("Unsqueeze", "Squeeze") and ins:
            data = vector(ins[0])
            axes = constant(ins[1]) if len(ins) > 1 and ins[1] is not None else attr_value(node, "axes")
            if data is None or axes is None or [int(a) for a in np.reshape(axes, -1)] != [0]:
                return None
            if op == "Unsqueeze" and data[1]:
                return data[0], False
            if op == "Squeeze" and not data[1] and len(data[0]) == 1:
                return data[0], True
            return None
        if op == "Concat" and attr_value(node, "axis") in (0, -1):
            parts = [vector(v) for v in ins]
            if any(p is None or p[1] for p in parts):
                return None
            return [e for p in parts for e in p[0]], False
        if op == "Slice" and len(ins) >= 3:
            data = vector(ins[0])
            args = [constant(v) if v is not None and v.name else None for v in ins[1:5]] + [None] * (5 - len(ins))
            if data is None or data[1] or args[0] is None or args[1] is None:
                return None
            if args[2] is not None and [int(a) for a in args[2].reshape(-1)] not in ([0], [-1]):
                return None
            step = int(args[3].reshape(-1)[0]) if args[3] is not None else 1
            start, end = int(args[0].reshape(-1)[0]), int(args[1].reshape(-1)[0])
            return data[0][slice(start, end, step)], False
        return None

    # ---- rules 3 and 4: Reshape ------------------------------------------------------------
    def _reshape(self, graph: ir.Graph, node: ir.Node, symbolic: dict) -> None:
        data, target = node.inputs[0], node.inputs[1]
        in_dims = self._dims(data)
        const = constant(target)
        elements = symbolic.get(target) if const is None else [int(x) for x in const.reshape(-1)]
        if elements is None or in_dims is None or attr_value(node, "allowzero", 0) != 0:
            return
        resolved: list[int] = []  # ONNX Reshape spelling: ints, 0 = copy the input's dim, -1 = the rest
        for pos, e in enumerate(elements):
            if isinstance(e, int):
                if e == 0 and const is None:
                    return  # a real zero-size dim: 0 would mean "copy" instead
                resolved.append(e)
            elif pos < len(in_dims) and in_dims[pos] == e:
                resolved.append(0)
            else:
                return
        if resolved.count(-1) > 1:
            return
        out_dims = _reshaped(in_dims, resolved)
        self.dims[node.outputs[0]] = out_dims
        if out_dims == in_dims and not (data.producer() is None and node.outputs[0].is_graph_output()):
            replace_pattern(graph, [node], node.outputs[0], data)
            remove_dead(graph, [target])
            self.count("removed {} no-op Reshape")
            return
        if len(resolved) == 2 and len(in_dims) >= 2 and resolved[1] == -1 and (resolved[0] == 0 or resolved[0] == in_dims[0]):
            flatten = ir.node("Flatten", [data], attributes={"axis": 1}, name=node.name)
            graph.insert_before(node, flatten)
            flatten.outputs[0].dtype = data.dtype
            replace_pattern(graph, [node], node.outputs[0], flatten.outputs[0])
            self.dims[flatten.outputs[0]] = out_dims
            remove_dead(graph, [target])
            self.count("turned {} Reshape into Flatten")
            return
        if const is None:
            node.replace_input_with(1, new_initializer(graph, f"{node.name or 'reshape'}_shape", np.array(resolved, np.int64)))
            remove_dead(graph, [target])
            self.count("made {} Reshape targets constant")


def _reshaped(in_dims: list[Dim], target: list[int]) -> Optional[list[Dim]]:
    """The output dims of Reshape(in_dims, target), where they can be told; None if not."""
    if any(t == 0 and p >= len(in_dims) for p, t in enumerate(target)):
        return None  # Reshape rejects it at run time; say nothing
    out: list[Dim] = [in_dims[p] if t == 0 else t for p, t in enumerate(target)]
    if -1 not in target:
        return out
    # The -1 dim is what is left of the input's size: cancel symbolic dims, divide the static ones.
    left = Counter(d for d in in_dims if not isinstance(d, int))
    left.subtract(d for d in out if not isinstance(d, int))
    known_in = math.prod(d for d in in_dims if isinstance(d, int))
    known_out = math.prod(d for d in out if isinstance(d, int) and d != -1)
    if any(n < 0 for n in left.values()) or known_out == 0 or known_in % known_out:
        return None
    rest = +left
    size = known_in // known_out
    if not rest:
        fill: Dim = size
    elif size == 1 and sum(rest.values()) == 1:
        fill = next(iter(rest))
    else:
        return None
    return [fill if d == -1 else d for d in out]
