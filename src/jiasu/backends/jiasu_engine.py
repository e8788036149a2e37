"""``jiasu``: our engine (jiasu.runtime.Engine) after the graph passes, with a plan per conv node."""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..errors import JiasuError
from ..kernels.conv import CONV_ALGORITHMS
from ..runtime.options import check_device, knob
from .base import Backend, BackendOptions, BenchModel


@dataclass(frozen=True)
class JiasuOptions(BackendOptions):
    conv_algorithm: str = knob(
        "auto",
        "convolution algorithm for every Conv node (auto: the planner's heuristic); nodes where it does not apply "
        "fall back to direct (see details)",
        choices=("auto",) + tuple(CONV_ALGORITHMS),
    )
    passes: str = knob("default", "graph passes before building: default, none, or names joined by '+'")
    tune: bool = knob(False, "time every applicable algorithm per conv node at the benchmark's batch (cached on disk)")
    plan: str = knob("", "a plan file from `jiasu compile` (fixes passes, algorithms and strategy; excludes the other options)")
    strategy: str = knob(
        "", "multi-core strategy of jiasu.runtime.parallel (sequential, intra_op, batch, pipeline, spatial, inter_op, mixed); '' for none"
    )
    device: str = knob("cpu", "torch device the engine runs on: cpu, cuda, cuda:1 ... (tune, plan and strategy are for the CPU)")
    cuda_graph: bool = knob(True, "on CUDA, replay the forward from a CUDA graph captured on the first run (jiasu.runtime.cuda_graph)")


class JiasuBackend(Backend):
    name = "jiasu"
    description = "jiasu's engine: graph passes, our kernels on torch tensors, per-node algorithm plan (CPU; CUDA with device=cuda)"
    Options = JiasuOptions

    def compile(self, model: BenchModel, options: JiasuOptions) -> None:
        from ..plan import compile_model
        from ..runtime import Engine

        from ..frontends.inputs import example_feeds
        from ..plan import runner_from_plan

        self.plan = None
        self.runner = None
        ir_model = model.ir
        check_device(options.device)
        if options.device != "cpu":
            cpu_only = [k for k in ("tune", "plan", "strategy") if getattr(options, k)]
            if cpu_only:
                raise JiasuError(
                    f"jiasu:{cpu_only[0]} is for the CPU, but device is {options.device!r}; drop {cpu_only[0]} for this "
                    f"device, or run it with device=cpu"
                )
        if options.plan:
            self.engine, runner = runner_from_plan(ir_model, options.plan, label=model.source, feeds=example_feeds(ir_model, batch=model.batch or 1))
            self.runner = runner if runner is not self.engine else None
            return
        passes = None if options.passes == "default" else [] if options.passes == "none" else options.passes.split("+")
        if options.tune:
            compiled = compile_model(ir_model, batch=model.batch or 1, threads=options.threads, passes=passes)
            self.engine, self.plan = compiled.engine, compiled.plan
        else:
            from ..passes import optimize
            from ..frontends import copy_model

            optimized, _ = optimize(copy_model(ir_model), passes)
            self.engine = Engine(
                optimized, conv_algorithm=options.conv_algorithm, threads=options.threads, device=options.device, cuda_graph=options.cuda_graph
            )
        if options.strategy:
            from ..runtime.parallel import make_runner

            feeds = example_feeds(self.engine.model, batch=model.batch or 1)
            self.runner = make_runner(self.engine, options.strategy, workers=options.threads or 2, feeds=feeds)

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.runner is not None:
            return {k: v.detach().cpu().numpy().copy() for k, v in self.runner.run(feeds).items()}
        return self.engine.run_numpy(feeds)

    def details(self) -> dict[str, Any]:
        import torch

        from ..runtime.allocator import state as allocator_state

        report = self.engine.algorithm_report()
        fallbacks = collections.Counter(c.reason for c in report if c.reason)
        out = {
            "conv_algorithms_used": dict(collections.Counter(c.choice for c in report)),
            "fallbacks": dict(fallbacks),
            "torch_threads": torch.get_num_threads(),
            "nodes": len(self.engine.steps),
            "keep_freed_memory": allocator_state(),
        }
        if self.engine.device.type != "cpu":
            out["device"] = str(self.engine.device)
            out["cuda_graphs"] = self.engine.graph_report()
        if self.plan is not None:
            out["tuned_ms"] = {n.node: n.timings_ms.get(n.algorithm) for n in self.plan.nodes}
        if self.runner is not None:
            out["strategy"] = self.runner.describe()
        return out

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()
        self.engine = self.runner = None
