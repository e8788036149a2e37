"""Ordering policies for the inter-op scheduler: which ready node a free worker takes first.

Each policy maps (graph, per-step cost) to a priority per dynamic step; lower
runs first. Registered here and nowhere else.

- ``fifo``: topological order, as the sequential engine runs them.
- ``small_first``: the cheapest ready node first (by measured cost), so short
  tasks do not wait behind long ones.
- ``critical_path``: layered priority by the longest cost-weighted path from the
  node to the end of the graph; nodes on the critical path go first.
"""

from __future__ import annotations

from typing import Callable

from ._graph import GraphInfo

Policy = Callable[[GraphInfo, list[float]], dict[int, float]]


def fifo(info: GraphInfo, costs: list[float]) -> dict[int, float]:
    return {i: float(i) for i in info.dynamic}


def small_first(info: GraphInfo, costs: list[float]) -> dict[int, float]:
    return {i: costs[i] for i in info.dynamic}


def critical_path(info: GraphInfo, costs: list[float]) -> dict[int, float]:
    remaining: dict[int, float] = {}
    for i in reversed(info.dynamic):
        remaining[i] = costs[i] + max((remaining[j] for j in info.successors[i]), default=0.0)
    return {i: -r for i, r in remaining.items()}


POLICIES: dict[str, Policy] = {"fifo": fifo, "small_first": small_first, "critical_path": critical_path}
