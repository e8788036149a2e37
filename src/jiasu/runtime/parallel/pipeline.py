"""Module parallel across a batch: the graph cut into stages, one per worker, micro-batches streaming through.

The dynamic steps, in topological order, are cut into ``workers`` contiguous
stages whose measured costs are as even as possible (the cut minimises the most
expensive stage). The batch is cut into micro-batches of ``micro_batch`` items;
stage k works on micro-batch m while stage k+1 works on m-1. What crosses a cut
is every value produced before it and read after it. A single micro-batch
cannot overlap with itself, so at batch 1 this is the sequential time plus
hand-offs: the benchmark reports it as the loss it is.
"""

from __future__ import annotations

import queue
import threading
from typing import Optional

import torch

from ...kernels.threads import enter_worker, torch_threads
from ._graph import intra_threads_for, run_steps, step_costs
from .base import Runner, StrategyError
from .batch import concat_outputs


def balanced_cuts(costs: list[float], stages: int) -> list[int]:
    """Cut points (exclusive ends) splitting ``costs`` into ``stages`` contiguous runs with the smallest maximum sum."""
    n = len(costs)
    if stages > n:
        raise StrategyError(f"cannot cut {n} steps into {stages} pipeline stages; use fewer workers")
    prefix = [0.0]
    for c in costs:
        prefix.append(prefix[-1] + c)
    inf = float("inf")
    # best[k][j]: smallest max-stage cost covering the first j steps with k stages; exact DP, n is a few hundred.
    best = [[inf] * (n + 1) for _ in range(stages + 1)]
    cut = [[0] * (n + 1) for _ in range(stages + 1)]
    best[0][0] = 0.0
    for k in range(1, stages + 1):
        for j in range(k, n + 1):
            for i in range(k - 1, j):
                v = max(best[k - 1][i], prefix[j] - prefix[i])
                if v < best[k][j]:
                    best[k][j], cut[k][j] = v, i
    ends, j = [], n
    for k in range(stages, 0, -1):
        ends.append(j)
        j = cut[k][j]
    return ends[::-1]


class Pipeline(Runner):
    name = "pipeline"

    def __init__(self, engine, workers=2, micro_batch: int = 1, costs: Optional[list[float]] = None, feeds=None, **kw):
        super().__init__(engine, workers, micro_batch=micro_batch, **kw)
        if workers < 2:
            raise StrategyError("a pipeline needs at least 2 workers (one per stage)")
        if micro_batch < 1:
            raise StrategyError(f"micro_batch must be >= 1, got {micro_batch}")
        self.micro_batch = micro_batch
        self.intra = intra_threads_for(workers, self.cores)
        if costs is None:
            from ...frontends.inputs import example_feeds

            costs = step_costs(engine, feeds if feeds is not None else example_feeds(engine.model, batch=1))
        info = self.info
        dyn = info.dynamic
        ends = balanced_cuts([costs[i] for i in dyn], workers)
        starts = [0] + ends[:-1]
        self.stages = [dyn[a:b] for a, b in zip(starts, ends)]
        self.stage_costs = [sum(costs[i] for i in st) for st in self.stages]
        # Values live across each cut: produced at or before it, read after it (or a graph output).
        position = {i: k for k, st in enumerate(self.stages) for i in st}
        self.crossing: list[set[int]] = [set() for _ in self.stages]  # what stage k hands to k+1
        for s in info.dynamic_slots:
            first = position.get(info.producer[s], -1) if s in info.producer else -1
            last = max((position[c] for c in info.consumers[s]), default=first)
            if s in info.output_slots:
                last = len(self.stages)
            for k in range(max(first, 0), last):
                if k < len(self.stages) - 1 or s in info.output_slots:
                    self.crossing[k].add(s)

    def run(self, feeds):
        from .batch import split_batch

        feeds = dict(feeds)
        batch = int(next(iter(feeds.values())).shape[0])
        parts = split_batch(feeds, -(-batch // self.micro_batch)) if batch > 1 else [feeds]
        info, steps = self.info, self.engine.steps
        nstage = len(self.stages)
        # Bounded hand-offs keep at most two micro-batches in flight per cut; the last queue is read only
        # after every micro-batch was fed, so it must not block the final stage.
        queues = [queue.Queue(maxsize=2) for _ in range(nstage)] + [queue.Queue()]
        static = info.static_values()
        errors: list[BaseException] = []
        outputs: list[Optional[dict]] = [None] * len(parts)

        def stage(k):
            enter_worker(self.intra)
            with torch.inference_mode():
                while True:
                    item = queues[k].get()
                    if item is None:
                        queues[k + 1].put(None)
                        return
                    m, values = item
                    if not errors:
                        try:
                            if k:
                                values = {**static, **values}
                            run_steps(steps, self.stages[k], values, free=False)
                            values = {s: values[s] for s in self.crossing[k]}
                        except BaseException as e:  # noqa: BLE001 - reported on the calling thread
                            errors.append(e)
                    queues[k + 1].put((m, values))

        threads = [threading.Thread(target=stage, args=(k,), name=f"jiasu-stage-{k}", daemon=True) for k in range(nstage)]
        with torch_threads(self.intra):
            for t in threads:
                t.start()
            initial = [info.initial_values(p) for p in parts]  # checks every slice before any runs
            for m, values in enumerate(initial):
                queues[0].put((m, values))
            queues[0].put(None)
            while True:
                item = queues[nstage].get()
                if item is None:
                    break
                m, values = item
                if not errors:
                    merged = dict(static)
                    merged.update(values)
                    outputs[m] = info.outputs(merged)
            for t in threads:
                t.join()
        if errors:
            raise errors[0]
        return outputs[0] if len(outputs) == 1 else concat_outputs(outputs)

    def describe(self):
        return {"strategy": self.name, "workers": self.workers, "intra_threads": self.intra, "micro_batch": self.micro_batch,
                "stages": [len(s) for s in self.stages], "stage_cost_ms": [round(c * 1e3, 3) for c in self.stage_costs]}
