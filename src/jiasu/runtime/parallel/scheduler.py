"""Module parallel inside one graph: a pool of inter-op workers runs independent nodes at the same time.

Each of ``workers`` threads takes the ready node that the ordering policy ranks
first (see ``policies.py``), runs its kernel with ``intra_threads`` torch threads
inside it, and releases its successors. ``workers x intra_threads`` is kept at
the core count by default, so inter-op and intra-op parallelism trade against
each other rather than oversubscribe. Branching graphs (GoogLeNet's inception
branches) gain; chains gain nothing and pay the hand-off.
"""

from __future__ import annotations

import heapq
import threading
from typing import Optional

import torch

from ...errors import JiasuError, format_choices
from ...kernels.threads import enter_worker, torch_threads
from ._graph import intra_threads_for, step_costs
from .base import Runner, StrategyError
from .policies import POLICIES


class InterOp(Runner):
    name = "inter_op"

    def __init__(self, engine, workers=2, policy: str = "critical_path", intra_threads: Optional[int] = None,
                 costs: Optional[list[float]] = None, feeds=None, **kw):
        super().__init__(engine, workers, policy=policy, **kw)
        if policy not in POLICIES:
            raise StrategyError(f"unknown scheduling policy {policy!r}; available: {format_choices(POLICIES)}")
        self.policy = policy
        self.intra = intra_threads or intra_threads_for(workers, self.cores)
        if costs is None:
            from ...frontends.inputs import example_feeds

            costs = step_costs(engine, feeds if feeds is not None else example_feeds(engine.model, batch=1))
        self.costs = costs
        self.priority = POLICIES[policy](self.info, costs)

    def run(self, feeds):
        info, steps = self.info, self.engine.steps
        values = info.initial_values(feeds)
        waiting = {i: len(d) for i, d in info.deps.items()}
        # Dynamic slots still to be read; a value is dropped once its last reader ran (outputs stay).
        readers = {s: len(c) for s, c in info.consumers.items()}
        keep = set(info.output_slots)
        ready = [(self.priority[i], i) for i, n in waiting.items() if n == 0]
        heapq.heapify(ready)
        state = {"left": len(info.dynamic), "error": None}
        cond = threading.Condition()

        def worker():
            enter_worker(self.intra)
            with torch.inference_mode():
                while True:
                    with cond:
                        while not ready and state["left"] and state["error"] is None:
                            cond.wait()
                        if not state["left"] or state["error"] is not None:
                            return
                        _, i = heapq.heappop(ready)
                        step = steps[i]
                        inputs = [values[s] if s is not None else None for s in step.inputs]
                    try:
                        results = step.kernel.run(*inputs)
                    except Exception as e:  # noqa: BLE001 - reported on the calling thread
                        with cond:
                            node = step.kernel.node
                            state["error"] = e if isinstance(e, JiasuError) else JiasuError(
                                f"{node.op_type} node {node.name!r} failed: {type(e).__name__}: {e}")
                            cond.notify_all()
                        return
                    del inputs
                    with cond:
                        for s, r in zip(step.outputs, results):
                            values[s] = r
                        for s in set(info.dynamic_inputs(i)):
                            readers[s] -= 1
                            if readers[s] == 0 and s not in keep:
                                values.pop(s, None)
                        for j in info.successors[i]:
                            waiting[j] -= 1
                            if waiting[j] == 0:
                                heapq.heappush(ready, (self.priority[j], j))
                        state["left"] -= 1
                        cond.notify_all()

        threads = [threading.Thread(target=worker, name=f"jiasu-interop-{k}", daemon=True) for k in range(self.workers - 1)]
        with torch_threads(self.intra):
            for t in threads:
                t.start()
            worker()
            for t in threads:
                t.join()
        if state["error"] is not None:
            raise state["error"]
        return info.outputs(values)

    def describe(self):
        return {"strategy": self.name, "workers": self.workers, "intra_threads": self.intra, "policy": self.policy}
