"""``profile``: where a model's cost is, per node and in total.

>>> p = profile(jiasu.load("zoo:alexnet"), dtype="int8", machine=False)
>>> p.totals.macs, p.shares["macs"]["conv"], p.totals.energy.total_pj

With ``plan=`` (a file of ``jiasu compile``) it profiles the graph the plan runs,
after the plan's passes, and ``p.plan`` holds what the plan chose: per conv
node the algorithm and its measured time, and the multi-core strategy.
"""

from __future__ import annotations

import collections
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import onnx_ir as ir

from ..errors import JiasuError
from .counts import DTYPE_BYTES, NodeCounts, Tensor, count_nodes, tensor_bytes
from .energy import Energy, EnergyTable, energy_table
from .graph import PARAMETER_DTYPES, itemsize, numel, prepare
from .memory import DEFAULT_CACHE_BYTES, activation_memory, traffic
from .roofline import Machine
from .roofline import machine as cached_machine
from .rules import CONV, FC

DTYPES = tuple(DTYPE_BYTES)


@dataclass(frozen=True)
class NodeProfile:
    """One run-time node. Bytes are at the execution dtype; energy in pJ; time in seconds."""

    name: str
    op_type: str
    kind: str
    output_shapes: list
    parameters: int
    macs: int
    flops: int
    adds: int
    muls: int
    special: int
    weight_bytes: float
    input_bytes: float
    output_bytes: float
    sram_bytes: int
    dram_bytes: int
    energy: Energy
    time_s: Optional[float] = None
    bound: Optional[str] = None

    @property
    def bytes_moved(self) -> float:
        return self.weight_bytes + self.input_bytes + self.output_bytes

    @property
    def intensity(self) -> float:
        """FLOPs per byte moved."""
        return self.flops / self.bytes_moved if self.bytes_moved else 0.0

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "energy"}
        d.update(bytes_moved=self.bytes_moved, intensity=self.intensity, energy=self.energy.to_dict())
        return d


@dataclass(frozen=True)
class Totals:
    parameters: int
    weight_bytes: float  # at the execution dtype
    weight_bytes_by_dtype: dict  # stored in the model, per dtype
    macs: int
    flops: int
    adds: int
    muls: int
    special: int
    bytes_moved: float
    sram_bytes: int
    dram_bytes: int
    activation_bytes: float  # every activation tensor summed (nothing freed)
    peak_activation_bytes: float  # live at once, freeing after last use
    peak_node: str
    energy: Energy
    floor_s: Optional[float] = None

    @property
    def intensity(self) -> float:
        return self.flops / self.bytes_moved if self.bytes_moved else 0.0

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "energy"}
        d.update(intensity=self.intensity, energy=self.energy.to_dict())
        return d


@dataclass(frozen=True)
class PlanView:
    """What a plan (``jiasu compile``) chose, shown beside the profile of the graph it runs.

    ``choices`` maps a node name to ``(algorithm, measured ms)``; the ms is None where the
    plan timed no candidates (``--no-tune``, or the heuristic kept). ``strategy`` is the
    plan's record as written (see :class:`jiasu.plan.Plan`), empty when it has none.
    """

    file: Optional[str]  # the plan file, None for a Plan given as an object
    model: str  # what the plan names the model it was compiled for
    passes: list[str]
    batch: int  # the batch it was compiled (and its algorithms timed) at
    threads: int
    strategy: dict[str, Any]
    choices: dict[str, tuple[str, Optional[float]]]

    @classmethod
    def of(cls, plan, file: Optional[str] = None) -> "PlanView":
        choices = {n.node: (n.algorithm, n.timings_ms.get(n.algorithm)) for n in plan.nodes}
        return cls(file, plan.model, list(plan.passes), plan.batch, plan.threads, dict(plan.strategy), choices)

    def to_dict(self) -> dict:
        return {"file": self.file, "model": self.model, "passes": list(self.passes), "batch": self.batch,
                "threads": self.threads, "strategy": dict(self.strategy) or None}


@dataclass
class Profile:
    """Everything ``jiasu profile`` shows. ``efficiency`` = floor latency / measured latency."""

    model: str
    batch: int
    dtype: str
    cache_bytes: float
    nodes: list[NodeProfile]
    totals: Totals
    shares: dict
    energy_table: EnergyTable
    machine: Optional[Machine] = None
    peak_note: Optional[str] = None
    measured_s: Optional[float] = None
    warnings: list[str] = field(default_factory=list)
    plan: Optional[PlanView] = None

    @property
    def efficiency(self) -> Optional[float]:
        if self.measured_s and self.totals.floor_s is not None:
            return self.totals.floor_s / self.measured_s
        return None

    def top(self, k: int, key: str = "macs") -> list[NodeProfile]:
        """The ``k`` nodes with the largest ``key`` (macs, flops, time_s, energy, parameters, bytes_moved)."""
        get = {"energy": lambda n: n.energy.total_pj, "time_s": lambda n: n.time_s or 0.0}.get(key, lambda n: getattr(n, key))
        return sorted(self.nodes, key=get, reverse=True)[:k]

    def to_dict(self) -> dict:
        """What ``jiasu profile --json`` prints; with a plan, also ``plan`` and per node ``algorithm``/``algorithm_ms``."""
        nodes = [n.to_dict() for n in self.nodes]
        extra = {}
        if self.plan is not None:
            extra["plan"] = self.plan.to_dict()
            for d in nodes:
                d["algorithm"], d["algorithm_ms"] = self.plan.choices.get(d["name"], (None, None))
        return {
            "model": self.model,
            "batch": self.batch,
            "dtype": self.dtype,
            "cache_bytes": self.cache_bytes,
            "totals": self.totals.to_dict(),
            "shares": self.shares,
            "roofline": None
            if self.machine is None
            else {"machine": self.machine.to_dict(), "peak_ops": self.machine.peak(self.dtype)[0], "peak_note": self.peak_note},
            "measured_s": self.measured_s,
            "efficiency": self.efficiency,
            "energy_table": self.energy_table.to_dict(),
            "warnings": list(self.warnings),
            **extra,
            "nodes": nodes,
        }


def profile(
    model: Union[ir.Model, str, Any],
    batch: Optional[int] = None,
    dtype: str = "fp32",
    *,
    energy: Union[None, str, EnergyTable, dict] = None,
    cache_bytes: float = DEFAULT_CACHE_BYTES,
    machine: Union[None, bool, Machine] = None,
    threads: int = 2,
    measured_s: Optional[float] = None,
    name: Optional[str] = None,
    plan: Union[None, str, os.PathLike, Any] = None,
) -> Profile:
    """Profile ``model`` (an onnx-ir Model, or anything :func:`jiasu.load` takes) at ``batch`` in ``dtype``.

    Args:
        batch: what the symbolic batch axis is set to (default 1; with a plan, the plan's batch).
        dtype: execution dtype, ``fp32``, ``fp16`` or ``int8``: sets the bytes of every
            floating-point tensor, the op costs of the energy table and the roofline peak.
        energy: an :class:`EnergyTable`, a table file (JSON/YAML) or dict overriding the default.
        cache_bytes: on-chip memory of the memory-access model (see :mod:`jiasu.analysis.memory`).
        machine: the roofline; None measures it or reads it from the cache, False leaves it out.
        threads: threads of the roofline measurement.
        measured_s: a measured latency of the whole model, to report ``efficiency``.
        plan: a plan file of ``jiasu compile`` (or a :class:`jiasu.plan.Plan`) made for
            ``model``: the graph the plan runs is profiled (after its passes) and
            ``Profile.plan`` says what it chose. fp32 only: the plan's engine runs what the
            model holds, float tensors in fp32, so another ``dtype`` would profile a graph
            the plan does not run. A plan made for another model is refused.
    """
    if dtype not in DTYPE_BYTES:
        raise JiasuError(f"dtype {dtype!r} is not supported; choose from: {', '.join(DTYPES)}")
    if plan is not None and dtype != "fp32":
        raise JiasuError(
            f"dtype {dtype!r} with a plan: a plan runs the model's float tensors in fp32, so its graph is profiled "
            f"in fp32; profile the model without the plan to see {dtype} execution"
        )
    if batch is not None and batch < 1:
        raise JiasuError(f"batch must be >= 1, got {batch}")
    if cache_bytes < 0:
        raise JiasuError(f"cache size must be >= 0 bytes, got {cache_bytes}")
    view = None
    if plan is not None:
        plan, view = _load_plan(plan)  # a missing or damaged file fails before the model loads
    if not isinstance(model, ir.Model):
        from ..frontends import load

        if isinstance(model, (str, os.PathLike)):
            name = name or str(model)
        model = load(model)
    if plan is not None:
        from ..plan import planned_model

        # The graph the plan runs, built as `jiasu run --plan` builds it (a plan for another model is refused
        # with the same message, node names are the plan's); no engine, since nothing runs.
        model = planned_model(model, plan, label=name)
        batch = batch or plan.batch
    batch = batch or 1
    table = energy if isinstance(energy, EnergyTable) else energy_table(energy)
    if dtype not in table.dtypes:
        raise JiasuError(f"the energy table {table.name!r} has no costs for dtype {dtype!r}; it covers: {', '.join(table.dtypes)}")
    if machine is None:
        machine = cached_machine(threads)
    machine = machine or None

    prepared = prepare(model, batch)
    counts, warnings = count_nodes(prepared)
    graph_outputs = {v.name for v in model.graph.outputs}
    graph_inputs = [
        Tensor(v.name, numel(prepared.shape(v)), prepared.dtypes.get(v.name, ir.DataType.FLOAT))
        for v in model.graph.inputs
        if v.name not in prepared.constants
    ]

    def nbytes(t: Tensor) -> float:
        return tensor_bytes(t, dtype)

    memory = activation_memory(counts, graph_inputs, graph_outputs, nbytes)
    moves = traffic(counts, graph_outputs, nbytes, cache_bytes)
    nodes = [_node_profile(c, m, nbytes, table, dtype, machine) for c, m in zip(counts, moves)]
    totals = _totals(nodes, prepared, memory, machine)
    return Profile(
        model=name or (model.graph.name or "model"),
        batch=batch,
        dtype=dtype,
        cache_bytes=cache_bytes,
        nodes=nodes,
        totals=totals,
        shares=_shares(nodes),
        energy_table=table,
        machine=machine,
        peak_note=machine.peak(dtype)[1] if machine else None,
        measured_s=measured_s,
        warnings=prepared.warnings + warnings,
        plan=view,
    )


def _load_plan(plan) -> tuple[Any, PlanView]:
    """The :class:`jiasu.plan.Plan` (loaded if ``plan`` is a path) and its view."""
    from ..plan import Plan

    if isinstance(plan, Plan):
        return plan, PlanView.of(plan)
    loaded = Plan.load(plan)
    return loaded, PlanView.of(loaded, file=str(plan))


def _node_profile(c: NodeCounts, moves, nbytes, table: EnergyTable, dtype: str, machine: Optional[Machine]) -> NodeProfile:
    weight_bytes = sum(nbytes(t) for t in c.weights)
    input_bytes = sum(nbytes(t) for t in c.inputs)
    output_bytes = sum(nbytes(t) for t in c.outputs)
    time_s = bound = None
    if machine is not None:
        time_s, bound = machine.floor_time(c.ops.flops, weight_bytes + input_bytes + output_bytes, dtype)
    return NodeProfile(
        name=c.name,
        op_type=c.op_type,
        kind=c.kind,
        output_shapes=[list(t.shape) if t.shape is not None else None for t in c.outputs],
        parameters=c.parameters,
        macs=c.ops.macs,
        flops=c.ops.flops,
        adds=c.ops.adds,
        muls=c.ops.muls,
        special=c.ops.special,
        weight_bytes=weight_bytes,
        input_bytes=input_bytes,
        output_bytes=output_bytes,
        sram_bytes=4 * moves.sram_words,
        dram_bytes=4 * moves.dram_words,
        energy=table.node_energy(c.ops, moves, dtype),
        time_s=time_s,
        bound=bound,
    )


def _totals(nodes: list[NodeProfile], prepared, memory, machine: Optional[Machine]) -> Totals:
    stored: dict[str, float] = collections.Counter()
    for value in prepared.model.graph.initializers.values():
        if value.dtype in PARAMETER_DTYPES and value.const_value is not None:
            stored[value.dtype.name] += value.const_value.size * itemsize(value.dtype)
    energy = Energy()
    for n in nodes:
        energy = energy + n.energy
    return Totals(
        parameters=sum(n.parameters for n in nodes),
        weight_bytes=sum(n.weight_bytes for n in nodes),
        weight_bytes_by_dtype=dict(stored),
        macs=sum(n.macs for n in nodes),
        flops=sum(n.flops for n in nodes),
        adds=sum(n.adds for n in nodes),
        muls=sum(n.muls for n in nodes),
        special=sum(n.special for n in nodes),
        bytes_moved=sum(n.bytes_moved for n in nodes),
        sram_bytes=sum(n.sram_bytes for n in nodes),
        dram_bytes=sum(n.dram_bytes for n in nodes),
        activation_bytes=memory.naive_bytes,
        peak_activation_bytes=memory.peak_bytes,
        peak_node=memory.peak_node,
        energy=energy,
        floor_s=sum(n.time_s for n in nodes) if machine is not None else None,
    )


def _shares(nodes: list[NodeProfile]) -> dict:
    """Fractions (0..1) of parameters, MACs, FLOPs and energy in conv, fully-connected and other nodes."""
    shares = {}
    metrics = {"parameters": lambda n: n.parameters, "macs": lambda n: n.macs, "flops": lambda n: n.flops, "energy": lambda n: n.energy.total_pj}
    for metric, get in metrics.items():
        total = sum(get(n) for n in nodes)
        parts = {CONV: 0.0, FC: 0.0, "other": 0.0}
        for n in nodes:
            parts[n.kind if n.kind in (CONV, FC) else "other"] += get(n)
        shares[metric] = {k: (v / total if total else 0.0) for k, v in parts.items()}
    return shares
