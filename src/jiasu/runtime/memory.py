"""Memory planning: where each intermediate tensor of one run would live in a single arena.

From one traced run we know every intermediate's size and its lifetime (the
step that makes it to the last step that reads it; graph outputs live to the
end). Three figures follow:

- **naive**: every intermediate in its own buffer, nothing freed (what a
  framework without liveness analysis allocates);
- **live peak**: the most bytes alive at any one step, the lower bound for any plan;
- **planned arena**: offsets assigned greedily, largest tensor first, each at the
  lowest offset that no tensor alive at the same time overlaps (the
  "greedy by size" strategy of TFLite's arena planner). Elementwise ops whose
  input dies at that step (Relu, Clip, Add, ...) write over their input:
  output and input share one buffer.

A kernel that allocates buffers of its own while it runs (``workspace_bytes(input)``: the fused
inverted residual's row buffers) adds one buffer alive at its step only, named ``<node> (workspace)``.

The engine frees each intermediate after its last use (``Engine.steps[i].frees``),
so torch's allocator can reuse the memory the plan assigns; the arena itself is
the plan, reported next to the naive figure (``jiasu compile``, ``jiasu profile``).
Inputs and weights are not activations and are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

# Ops that may write their output over an input of the same size that dies at that step.
INPLACE_OPS = {
    "Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "Elu", "Selu", "Neg", "Abs", "Exp",
    "Log", "Sqrt", "Add", "Sub", "Mul", "Div", "Dropout", "Identity", "Softmax", "BatchNormalization", "Cast",
}


@dataclass
class Buffer:
    """One intermediate: its value slot, size, lifetime [first, last] in steps, and planned offset."""

    slot: int
    name: str
    nbytes: int
    first: int
    last: int
    offset: int = -1
    alias_of: int | None = None  # slot whose buffer this in-place output reuses


@dataclass
class MemoryPlan:
    naive_bytes: int
    live_peak_bytes: int
    arena_bytes: int
    inplace: int
    buffers: list[Buffer] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """Planned arena over naive (lower is better)."""
        return self.arena_bytes / self.naive_bytes if self.naive_bytes else 1.0

    def summary(self) -> dict[str, Any]:
        return {
            "naive_bytes": self.naive_bytes,
            "live_peak_bytes": self.live_peak_bytes,
            "arena_bytes": self.arena_bytes,
            "arena_vs_naive": round(self.ratio, 4),
            "inplace_ops": self.inplace,
            "buffers": len([b for b in self.buffers if b.alias_of is None]),
        }


def _nbytes(t: Any) -> int:
    return t.numel() * t.element_size() if isinstance(t, torch.Tensor) else 0


def plan_memory(engine, feeds: Mapping[str, Any], inplace: bool = True) -> MemoryPlan:
    """The memory plan of one run of ``engine`` on ``feeds`` (see the module docstring)."""
    sizes: dict[int, int] = {}
    first: dict[int, int] = {}
    workspaces: list[Buffer] = []

    def on_step(i, inputs, outputs):
        for s, t in zip(engine.steps[i].outputs, outputs):
            sizes[s] = _nbytes(t)
            first[s] = i
        kernel = engine.steps[i].kernel
        nbytes = kernel.workspace_bytes(inputs[0]) if hasattr(kernel, "workspace_bytes") else 0
        if nbytes:
            # slots are >= 0: a workspace takes a negative one, so it never aliases a value
            workspaces.append(Buffer(-1 - i, f"{kernel.node.name} (workspace)", nbytes, i, i))

    engine.trace(feeds, on_step)
    n = len(engine.steps)
    last = dict(first)
    for i, step in enumerate(engine.steps):
        for s in step.inputs:
            if s in last:
                last[s] = max(last[s], i)
    for s in engine._output_slots:
        if s in last:
            last[s] = n  # outputs outlive the run
    names = {}
    for step in engine.steps:
        for s, v in zip(step.outputs, step.kernel.node.outputs):
            names[s] = v.name
    buffers = {s: Buffer(s, names.get(s, str(s)), sizes[s], first[s], last[s]) for s in sizes if sizes[s] > 0}
    buffers.update((b.slot, b) for b in workspaces)

    # In place: the output takes over an input buffer that dies at this very step.
    count = 0
    if inplace:
        root = {}
        for i, step in enumerate(engine.steps):
            if step.kernel.node.op_type not in INPLACE_OPS or len(step.outputs) != 1:
                continue
            out = step.outputs[0]
            for s in step.inputs:
                s_root = root.get(s, s)
                b = buffers.get(s_root)
                if b is None or out not in buffers or s not in step.frees or buffers[out].nbytes != sizes.get(s):
                    continue
                b.last = max(b.last, buffers[out].last)
                buffers[out].alias_of = s_root
                root[out] = s_root
                count += 1
                break

    owners = sorted((b for b in buffers.values() if b.alias_of is None), key=lambda b: (-b.nbytes, b.first))
    placed: list[Buffer] = []
    arena = 0
    for b in owners:
        # Memory ranges of already-placed buffers alive at the same time as b, by offset.
        busy = sorted((p.offset, p.offset + p.nbytes) for p in placed if p.first <= b.last and b.first <= p.last)
        offset = 0
        for lo, hi in busy:
            if offset + b.nbytes <= lo:
                break
            offset = max(offset, hi)
        b.offset = offset
        placed.append(b)
        arena = max(arena, offset + b.nbytes)
    for b in buffers.values():
        if b.alias_of is not None:
            b.offset = buffers[b.alias_of].offset

    live_peak = 0
    for i in range(n + 1):
        live_peak = max(live_peak, sum(b.nbytes for b in owners if b.first <= i <= b.last))
    naive = sum(b.nbytes for b in buffers.values())
    return MemoryPlan(naive, live_peak, arena, count, sorted(buffers.values(), key=lambda b: b.first))


def check_plan(plan: MemoryPlan) -> None:
    """Assert no two buffers alive at the same time overlap in the arena (the plan's invariant)."""
    owners = [b for b in plan.buffers if b.alias_of is None]
    for i, a in enumerate(owners):
        assert 0 <= a.offset and a.offset + a.nbytes <= plan.arena_bytes
        for b in owners[i + 1 :]:
            if a.first <= b.last and b.first <= a.last:
                assert a.offset + a.nbytes <= b.offset or b.offset + b.nbytes <= a.offset, (a, b)
