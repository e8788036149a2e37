"""Several cores on one model: the multi-core strategies, the inter-op scheduler and the mixed plan.

========================  ================================================================
``sequential``            the engine on one torch thread (the baseline)
``intra_op``              the engine with ``workers`` torch threads inside each kernel
``batch``                 data parallel: the batch cut into one slice per worker
``pipeline``              stages balanced by measured cost, micro-batches streaming through
``spatial``               one input cut along its height with halos, merged before the
                          first node that needs the whole map
``inter_op``              independent nodes on ``workers`` threads, ordered by ``policy``
                          (``fifo``, ``small_first``, ``critical_path``)
``mixed``                 every strategy above measured per input shape, the fastest kept
========================  ================================================================

>>> runner = make_runner(engine, "spatial", workers=2)
>>> outputs = runner.run(feeds)                       # equal to engine.run(feeds) within 1e-5
>>> best, timings, _ = choose_strategy(engine, feeds)  # ("batch", {"sequential": 0.041, ...})

To add a strategy: write ``parallel/<name>.py`` with a :class:`Runner` subclass
whose ``name`` is the key, and add it to ``_RUNNERS`` below.
"""

from __future__ import annotations

from typing import Any

from ...errors import format_choices
from ._graph import GraphInfo, available_cores, step_costs
from .base import IntraOp, Runner, Sequential, StrategyError
from .batch import BatchParallel
from .mixed import DEFAULT_CANDIDATES, Mixed, candidate_label, choose_strategy, parse_label
from .pipeline import Pipeline, balanced_cuts
from .policies import POLICIES
from .scheduler import InterOp
from .spatial import RowGeometry, SpatialSplit, find_chain, halo_plan

_RUNNERS: list[type[Runner]] = [Sequential, IntraOp, BatchParallel, Pipeline, SpatialSplit, InterOp, Mixed]

STRATEGIES: dict[str, type[Runner]] = {r.name: r for r in _RUNNERS}

# Options that only some strategies read; the rest ignore them so one call can build any candidate.
_COST_USERS = ("pipeline", "inter_op")


def make_runner(engine, strategy: str, workers: int = 2, **options: Any) -> Runner:
    """A runner executing ``engine`` with ``strategy`` on ``workers`` cores; ``runner.run(feeds)`` like ``engine.run``.

    ``options``: ``micro_batch`` (pipeline), ``policy``/``intra_threads`` (inter_op),
    ``candidates``/``repeats`` (mixed); ``costs`` (per-step seconds) or ``feeds``
    (to measure them) for the strategies that balance by cost.
    """
    try:
        cls = STRATEGIES[strategy]
    except KeyError:
        raise StrategyError(f"unknown strategy {strategy!r}; available: {format_choices(STRATEGIES)}") from None
    if strategy not in _COST_USERS and strategy != "mixed":
        options.pop("costs", None)
        options.pop("feeds", None)
    return cls(engine, workers, **options)


__all__ = [
    "DEFAULT_CANDIDATES",
    "GraphInfo",
    "POLICIES",
    "RowGeometry",
    "Runner",
    "STRATEGIES",
    "StrategyError",
    "available_cores",
    "balanced_cuts",
    "candidate_label",
    "choose_strategy",
    "find_chain",
    "halo_plan",
    "make_runner",
    "parse_label",
    "step_costs",
]
