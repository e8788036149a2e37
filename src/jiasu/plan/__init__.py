"""The planner: graph passes, per-node algorithm choice (heuristic or tuned), memory plan, as one plan file.

``compile_model(source)`` loads a model, runs the graph passes, builds the
engine with the heuristic choice, tunes every convolution on its real shapes
(cached on disk), rebuilds the engine with the winners and plans memory. It
returns the engine and a :class:`Plan` that ``engine_from_plan`` turns back into
the same engine later, without tuning again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Callable, Optional

import onnx_ir as ir
import torch

from ..errors import JiasuError
from .heuristic import choose_algorithm
from .plan import NodePlan, Plan
from .tune import TuningCache, machine_key, tune


def model_digest(model: ir.Model) -> str:
    """sha256 of the serialized model: a plan is only valid for the model it was made from."""
    return hashlib.sha256(ir.to_proto(model).SerializeToString(deterministic=True)).hexdigest()


@dataclass
class Compiled:
    """What :func:`compile_model` returns: the engine to run, its plan, and the optimized graph."""

    engine: Any
    plan: Plan
    model: ir.Model


def copy_model(model: ir.Model) -> ir.Model:
    """A deep copy (passes rewrite in place; a model the caller handed us stays theirs)."""
    return ir.from_proto(ir.to_proto(model))


def _load(source: Any) -> tuple[ir.Model, str]:
    """A model we may rewrite, and a label for reports."""
    from ..frontends import load

    if isinstance(source, ir.Model):
        return copy_model(source), getattr(source.graph, "name", None) or "model"
    return load(source), str(source)


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
) -> Compiled:
    """Compile ``source`` (a path, ``zoo:NAME``, ModelProto or onnx-ir model) for this machine.

    ``passes`` None runs ``jiasu.passes.DEFAULT_PASSES``; ``[]`` runs none. Tuning
    times candidates at ``batch`` on example inputs, about ``per_candidate_s`` each,
    and ``budget_s`` bounds it all.
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
    if threads:
        torch.set_num_threads(threads)
    threads_used = threads or torch.get_num_threads()
    engine = Engine(model, conv_algorithm="auto", threads=threads)
    feeds = example_feeds(model, batch=batch)
    if tune_algorithms:
        if cache is None and use_cache:
            cache = TuningCache.open()
        nodes = tune(
            engine, feeds, budget_s=budget_s, per_candidate_s=per_candidate_s, cache=cache if use_cache else None,
            threads=threads_used, progress=progress,
        )
        engine = Engine(model, conv_algorithms={n.node: n.algorithm for n in nodes}, threads=threads)
    else:
        nodes = [NodePlan(c.name, c.op_type, c.choice or "direct", "heuristic") for c in engine.algorithm_report()]
    memory = plan_memory(engine, feeds).summary()
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
    )
    return Compiled(engine, plan, model)


def engine_from_plan(source: Any, plan: Plan | str, *, check_digest: bool = True, label: Optional[str] = None):
    """The engine ``plan`` describes for ``source``: same passes, same per-node algorithms, no tuning.

    ``label`` names the model in errors (default: the path or zoo name given, or the graph's name).
    """
    from ..passes import optimize
    from ..runtime import Engine

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
    return Engine(model, conv_algorithms=plan.conv_algorithms, threads=plan.threads)


__all__ = ["Compiled", "copy_model", "NodePlan", "Plan", "TuningCache", "choose_algorithm", "compile_model", "engine_from_plan", "model_digest"]
