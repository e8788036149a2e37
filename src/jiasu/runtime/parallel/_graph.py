"""What every strategy needs to know about an engine's steps: which depend on the inputs, who feeds whom.

Steps that read no graph input (Identity over an initializer, shape arithmetic on
constants) are *static*: they are computed once per runner and their outputs
treated as constants. The rest are *dynamic* and form the DAG the strategies
split: by batch, by stage, by rows, or node by node.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Iterable, Mapping, Optional

import torch

from ...errors import JiasuError


def available_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def intra_threads_for(workers: int, cores: Optional[int] = None) -> int:
    """torch threads per worker so that ``workers`` of them do not oversubscribe the cores."""
    return max(1, (cores or available_cores()) // max(1, workers))


class GraphInfo:
    """The dynamic DAG of an engine: step indices, their producers and consumers, and static values."""

    def __init__(self, engine):
        self.engine = engine
        steps = engine.steps
        declared = {v.name for v in engine.inputs}
        self.input_slots = [s for v, s in zip(engine.model.graph.inputs, engine._input_slots) if v.name in declared]
        dynamic_slots = set(self.input_slots)
        self.dynamic: list[int] = []
        self.static: list[int] = []
        for i, step in enumerate(steps):
            if any(s in dynamic_slots for s in step.inputs if s is not None):
                self.dynamic.append(i)
                dynamic_slots.update(step.outputs)
            else:
                self.static.append(i)
        self.dynamic_slots = dynamic_slots
        self.output_slots = list(engine._output_slots)
        self.producer: dict[int, int] = {}
        for i in self.dynamic:
            for s in steps[i].outputs:
                self.producer[s] = i
        self.consumers: dict[int, list[int]] = {s: [] for s in dynamic_slots}
        self.deps: dict[int, set[int]] = {}
        for i in self.dynamic:
            ins = {s for s in steps[i].inputs if s is not None and s in dynamic_slots}
            for s in ins:
                self.consumers[s].append(i)
            self.deps[i] = {self.producer[s] for s in ins if s in self.producer}
        self.successors: dict[int, list[int]] = {i: [] for i in self.dynamic}
        for i, ds in self.deps.items():
            for d in ds:
                self.successors[d].append(i)
        self._static_values: Optional[dict[int, torch.Tensor]] = None
        self._lock = threading.Lock()

    def dynamic_inputs(self, i: int) -> list[int]:
        return [s for s in self.engine.steps[i].inputs if s is not None and s in self.dynamic_slots]

    def static_values(self) -> dict[int, torch.Tensor]:
        """Constants plus the outputs of static steps (computed once)."""
        with self._lock:
            if self._static_values is None:
                values: dict[int, Any] = dict(self.engine._constants)
                with torch.inference_mode():
                    run_steps(self.engine.steps, self.static, values, free=False)
                self._static_values = values
            return self._static_values

    def initial_values(self, feeds: Mapping[str, Any]) -> dict[int, Any]:
        """Static values plus the checked feeds, keyed by slot."""
        engine = self.engine
        args = engine._arguments(engine._check_feeds(feeds))
        values = dict(self.static_values())
        for s, a in zip(engine._input_slots, args):
            if a is not None:
                values[s] = a
        return values

    def outputs(self, values: Mapping[int, Any]) -> dict[str, torch.Tensor]:
        return {v.name: values[s] for v, s in zip(self.engine.outputs, self.output_slots)}


def run_steps(steps, indices: Iterable[int], values: dict, free: bool = True) -> None:
    """Run ``steps[i]`` for ``i`` in order on ``values`` (slot -> tensor), dropping what each step frees."""
    i = -1
    try:
        for i in indices:
            step = steps[i]
            results = step.kernel.run(*[values[s] if s is not None else None for s in step.inputs])
            for s, r in zip(step.outputs, results):
                values[s] = r
            if free:
                for s in step.frees:
                    values.pop(s, None)
    except JiasuError:
        raise
    except Exception as e:
        node = steps[i].kernel.node
        raise JiasuError(f"{node.op_type} node {node.name!r} failed: {type(e).__name__}: {e}") from e


def step_costs(engine, feeds: Mapping[str, Any], repeats: int = 3) -> list[float]:
    """Measured seconds per step (the minimum over ``repeats`` traced runs); used to balance and order."""
    best = [float("inf")] * len(engine.steps)
    for _ in range(repeats):
        last = [time.perf_counter()]

        def on_step(i, inputs, outputs):
            now = time.perf_counter()
            best[i] = min(best[i], now - last[0])
            last[0] = now

        engine.trace(feeds, on_step)
    return best
