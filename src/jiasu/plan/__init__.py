"""The planner: graph passes, per-node algorithm choice (heuristic or tuned), memory plan, as one plan file.

``compile_model(source)`` loads a model, runs the graph passes, builds the
engine with the heuristic choice, tunes every convolution on its real shapes
(cached on disk), rebuilds the engine with the winners and plans memory. It
returns the engine and a :class:`Plan` that ``engine_from_plan`` turns back into
the same engine later, without tuning again.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import onnx_ir as ir
import torch

from ..errors import JiasuError
from ..frontends import copy_model
from .heuristic import choose_algorithm
from .plan import NodePlan, Plan
from .tune import TuningCache, capture_conv_inputs, machine_key, tune, tune_in_context


def model_digest(model: ir.Model) -> str:
    """sha256 of the serialized model: a plan is only valid for the model it was made from."""
    return hashlib.sha256(ir.to_proto(model).SerializeToString(deterministic=True)).hexdigest()


@dataclass
class Compiled:
    """What :func:`compile_model` returns: the engine to run, its plan, and the optimized graph."""

    engine: Any
    plan: Plan
    model: ir.Model
    #: what runs the model: a multi-core runner if the plan has a strategy, else the engine.
    runner: Any = None

    def run(self, feeds):
        return (self.runner or self.engine).run(feeds)


def _load(source: Any) -> tuple[ir.Model, str]:
    """A model we may rewrite, and a label for reports."""
    from ..frontends import load

    if isinstance(source, ir.Model):
        return copy_model(source), getattr(source.graph, "name", None) or "model"
    model = load(source)
    if isinstance(source, (str, os.PathLike)):
        return model, str(source)
    # a ModelProto or bytes: its printed form would be the whole protobuf
    return model, getattr(model.graph, "name", None) or "model"


def compile_model(
    source: Any,
    *,
    batch: int = 1,
    threads: int = 0,
    passes: Optional[list[str]] = None,
    tune_algorithms: bool = True,
    budget_s: float = 120.0,
    per_candidate_s: float = 0.15,
    use_cache: bool = True,
    cache: Optional[TuningCache] = None,
    progress: Callable[[int, int, str], None] | None = None,
    strategy: Optional[str] = None,
    workers: int = 2,
    validate: bool = True,
    in_context: bool = True,
) -> Compiled:
    """Compile ``source`` (a path, ``zoo:NAME``, ModelProto or onnx-ir model) for this machine.

    ``strategy``: a multi-core strategy of :mod:`jiasu.runtime.parallel` run on ``workers``
    cores, or ``"auto"`` to time them all on the example batch and keep the fastest
    (None: the engine alone). ``passes`` None runs ``jiasu.passes.DEFAULT_PASSES``; ``[]`` runs none. Tuning
    times candidates at ``batch`` on example inputs, about ``per_candidate_s`` each,
    and ``budget_s`` bounds it all; with ``in_context`` the close contenders of each node
    are then timed again inside whole runs of the model (:func:`~jiasu.plan.tune.tune_in_context`),
    which decide; with ``validate`` the tuned plan is kept only if the whole model runs
    faster with it than with the heuristic one.
    """
    from ..frontends.inputs import example_feeds
    from ..passes import DEFAULT_PASSES, optimize
    from ..runtime import Engine
    from ..runtime.memory import plan_memory

    if batch < 1:
        raise JiasuError(f"batch must be >= 1, got {batch}")
    model, label = _load(source)
    digest = model_digest(model)
    names = list(DEFAULT_PASSES if passes is None else passes)
    model, reports = optimize(model, names)
    engine = Engine(model, conv_algorithm="auto", threads=threads)  # sets torch's threads when given
    threads_used = threads or torch.get_num_threads()
    feeds = example_feeds(model, batch=batch)
    if tune_algorithms:
        if cache is None and use_cache:
            cache = TuningCache.open()
        start = time.perf_counter()
        captured = capture_conv_inputs(engine, feeds)  # one traced run for both steps
        nodes = tune(
            engine, feeds, budget_s=budget_s, per_candidate_s=per_candidate_s, cache=cache if use_cache else None,
            threads=threads_used, progress=progress, captured=captured,
        )
        context = {}
        if in_context:
            left = max(budget_s - (time.perf_counter() - start), 0.0)
            context = tune_in_context(engine, nodes, feeds, budget_s=left, progress=progress, captured=captured)
        del captured
        tuned = Engine(model, conv_algorithms={n.node: n.algorithm for n in nodes}, threads=threads)
        engine, validation = _validate(engine, tuned, nodes, feeds) if validate else (tuned, {})
    else:
        nodes = [NodePlan(c.name, c.op_type, c.choice or "direct", "heuristic") for c in engine.algorithm_report()]
        validation, context = {}, {}
    memory = plan_memory(engine, feeds).summary()
    runner, strategy_record = _choose_strategy(engine, feeds, strategy, workers) if strategy else (None, {})
    plan = Plan(
        model=label,
        model_digest=digest,
        passes=names,
        threads=threads_used,
        batch=batch,
        device=engine.options.device,
        machine={"key": machine_key(threads_used)},
        nodes=nodes,
        memory=memory,
        pass_report=[{"pass": r.name, "nodes_before": r.nodes_before, "nodes_after": r.nodes_after, "summary": r.summary()} for r in reports],
        strategy=strategy_record,
        validation=validation,
        context=context,
    )
    return Compiled(engine, plan, model, runner)


#: Rounds of the whole-model check, each one run (or more, up to its share of the budget) of both plans.
VALIDATE_ROUNDS = 9


def _validate(heuristic, tuned, nodes: list[NodePlan], feeds, budget_s: float = 3.0):
    """Keep the tuned engine only if the whole model runs faster with it than with the heuristic.

    Per-node timings alone have each layer's input and weights hot in cache; in the
    whole model Winograd's larger intermediates compete for the same caches and
    threads, and on resnet18 a plan of per-node winners ran 16% slower than the
    heuristic one at batch 1. Timing the close contenders inside whole runs
    (:func:`~jiasu.plan.tune.tune_in_context`) closes most of that gap, per node;
    whether the nodes' picks win together is still a question for the whole
    model. So both engines run the whole model in :data:`VALIDATE_ROUNDS`
    interleaved rounds, and the median over the rounds of tuned / heuristic
    decides (at most 1: tuned kept). Each round's two times are taken side by
    side, so a slow spell of a shared machine that falls on a round divides out
    of its ratio; with one run a sample (vgg16 at batch 8: 0.8 s a run), medians
    of each plan's own times had let such spells decide. The median, not the
    best: a plan whose best run wins but whose typical run loses (large buffers,
    allocation) is not what a user wants kept.
    """
    import statistics

    from ..bench.timing import interleaved

    choices = [c.choice or "direct" for c in heuristic.algorithm_report()]
    if [n.algorithm for n in nodes] == choices:
        return tuned, {"kept": "tuned", "note": "the tuned choices equal the heuristic ones"}
    with torch.inference_mode():
        fns = {"heuristic": lambda: heuristic.run(feeds), "tuned": lambda: tuned.run(feeds)}
        for fn in fns.values():
            fn()  # warm-up: weight packing, per-shape checks
        samples = interleaved(fns, rounds=VALIDATE_ROUNDS, block_s=budget_s / (2 * VALIDATE_ROUNDS), settle_s=0)
    ratio = statistics.median(t / h for t, h in zip(samples["tuned"], samples["heuristic"]))
    result = {
        "whole_model_ms": {name: round(statistics.median(s) * 1e3, 4) for name, s in samples.items()},
        "tuned_over_heuristic": round(ratio, 4),
    }
    if ratio <= 1.0:
        return tuned, {"kept": "tuned", **result}
    for n, choice in zip(nodes, choices):
        n.algorithm, n.source = choice, "heuristic (tuned plan was slower as a whole)"
    return heuristic, {"kept": "heuristic", **result}


def _choose_strategy(engine, feeds, strategy: str, workers: int):
    """The runner for ``strategy`` (``"auto"``: measured) and its record for the plan."""
    from ..runtime.parallel import choose_strategy, make_runner, parse_label

    if strategy == "auto":
        best, timings, runners = choose_strategy(engine, feeds, workers=workers)
        name, options = parse_label(best)
        for label, r in runners.items():
            if label != best:
                r.close()
        runner = runners[best]
        record_timings = {k: (round(v * 1e3, 4) if isinstance(v, float) else v) for k, v in timings.items()}
    else:
        name, options = parse_label(strategy)
        runner = make_runner(engine, name, workers, feeds=feeds, **options)
        record_timings = {}
    record = {"name": name, "workers": workers, "options": options, "timings_ms": record_timings, "describe": runner.describe()}
    return runner, record


def runner_from_plan(source: Any, plan: Plan | str, *, check_digest: bool = True, label: Optional[str] = None, feeds=None):
    """What ``plan`` runs: the engine of :func:`engine_from_plan`, wrapped in the plan's multi-core strategy if it has one.

    Returns ``(engine, runner)``; ``runner`` is the engine itself when the plan has no strategy.
    ``feeds`` are used by strategies that balance stages by measured cost.
    """
    if not isinstance(plan, Plan):
        plan = Plan.load(plan)
    engine = engine_from_plan(source, plan, check_digest=check_digest, label=label)
    if not plan.strategy:
        return engine, engine
    from ..runtime.parallel import make_runner

    s = plan.strategy
    return engine, make_runner(engine, s["name"], s.get("workers", 2), feeds=feeds, **s.get("options", {}))


def planned_model(source: Any, plan: Plan | str, *, check_digest: bool = True, label: Optional[str] = None) -> ir.Model:
    """The graph ``plan`` runs for ``source``: the plan's passes applied, after checking the plan was made for it.

    ``label`` names the model in errors (default: the path or zoo name given, or the graph's name).
    """
    from ..passes import optimize

    if not isinstance(plan, Plan):
        plan = Plan.load(plan)
    model, loaded_label = _load(source)
    label = label or loaded_label
    if check_digest:
        digest = model_digest(model)
        if digest != plan.model_digest:
            raise JiasuError(
                f"the plan was compiled for another model ({plan.model!r}, sha256 {plan.model_digest[:12]}...), "
                f"not {label!r} (sha256 {digest[:12]}...); compile this model: `jiasu compile {label} -o PLAN`"
            )
    model, _ = optimize(model, plan.passes)
    return model


def engine_from_plan(source: Any, plan: Plan | str, *, check_digest: bool = True, label: Optional[str] = None):
    """The engine ``plan`` describes for ``source``: same passes, same per-node algorithms, no tuning.

    ``label`` names the model in errors (default: the path or zoo name given, or the graph's name).
    """
    from ..runtime import Engine

    if not isinstance(plan, Plan):
        plan = Plan.load(plan)
    model = planned_model(source, plan, check_digest=check_digest, label=label)
    return Engine(model, conv_algorithms=plan.conv_algorithms, threads=plan.threads)


__all__ = ["Compiled", "runner_from_plan", "NodePlan", "Plan", "TuningCache", "choose_algorithm", "compile_model", "engine_from_plan", "model_digest", "planned_model"]
