"""Per-node counts that do not depend on the execution dtype: arithmetic, parameters, tensors read and written.

Bytes follow from elements once the execution dtype is known (see
:func:`tensor_bytes`): floating-point tensors take the execution dtype's size
(4, 2 or 1 byte for fp32, fp16, int8), other tensors (int64 indices, bools)
keep their own.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import onnx_ir as ir

from .graph import Prepared, itemsize, numel
from .rules import KINDS, Ops, ShapeUnknown, count_ops, op_key

DTYPE_BYTES = {"fp32": 4, "fp16": 2, "int8": 1}


@dataclass(frozen=True)
class Tensor:
    """One tensor a node reads or writes."""

    name: str
    elements: int
    dtype: ir.DataType
    shape: tuple[int, ...] | None = None


@dataclass(frozen=True)
class NodeCounts:
    """A run-time node: its arithmetic, the parameters first read here, and its tensors."""

    name: str
    op_type: str
    kind: str
    ops: Ops
    parameters: int
    weights: tuple[Tensor, ...]  # constant tensors read
    inputs: tuple[Tensor, ...]  # activations read
    outputs: tuple[Tensor, ...]  # activations written


def tensor_bytes(t: Tensor, dtype: str) -> float:
    """Bytes of ``t`` when the model runs in ``dtype`` (fp32 / fp16 / int8)."""
    return t.elements * (DTYPE_BYTES[dtype] if t.dtype.is_floating_point() else itemsize(t.dtype))


def count_nodes(prepared: Prepared) -> tuple[list[NodeCounts], list[str]]:
    """Counts of every run-time node in topological order, and warnings for what could not be counted."""
    out: list[NodeCounts] = []
    unknown: dict[str, list[str]] = collections.defaultdict(list)
    warnings: list[str] = []
    counted_params: set[str] = set()
    shapeless: set[str] = set()
    for node in prepared.nodes:
        op = op_key(node)
        ops = Ops()
        if op not in KINDS:
            unknown[op].append(node.name)
        else:
            try:
                ops = count_ops(node, prepared)
            except ShapeUnknown as e:
                warnings.append(f"{e}; counted as 0")
        weights, inputs, seen = [], [], set()
        params = 0
        for v in node.inputs:
            if v is None or not v.name or v.name in seen:
                continue
            seen.add(v.name)
            t = _tensor(v, prepared)
            if v.name in prepared.constants:
                weights.append(t)
                if v.name in prepared.parameters and v.name not in counted_params:
                    counted_params.add(v.name)
                    params += prepared.parameters[v.name]
            else:
                inputs.append(t)
        outputs = tuple(_tensor(v, prepared) for v in node.outputs if v.name)
        shapeless.update(t.name for t in (*inputs, *outputs) if t.shape is None)
        out.append(NodeCounts(node.name, node.op_type, KINDS.get(op, "other"), ops, params, tuple(weights), tuple(inputs), outputs))
    for op, names in unknown.items():
        n = len(names)
        warnings.append(f"no counting rule for {op} ({n} node{'s' if n > 1 else ''}, first {names[0]!r}): counted as 0 MACs and 0 FLOPs")
    if shapeless:
        warnings.append(f"{len(shapeless)} tensors have no inferred shape (first {sorted(shapeless)[0]!r}): their bytes count as 0")
    return out, warnings


def _tensor(value: ir.Value, prepared: Prepared) -> Tensor:
    shape = prepared.shape(value)
    dtype = prepared.dtypes.get(value.name) or value.dtype or ir.DataType.FLOAT
    return Tensor(value.name, numel(shape), dtype, shape)
