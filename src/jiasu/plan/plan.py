"""The plan: what the compiler decided for one model on one machine, as a human-readable JSON file.

A plan names the passes that were applied (they are re-applied, deterministically,
when the plan is used), the engine options, and per node the chosen algorithm
with the time measured for every candidate. ``jiasu compile MODEL -o m.plan.json``
writes one; ``jiasu run MODEL --plan m.plan.json`` and ``Engine`` via
:func:`jiasu.plan.engine_from_plan` use it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..errors import JiasuError

FORMAT = "jiasu-plan"
VERSION = 1


@dataclass
class NodePlan:
    """One node's decision: ``algorithm`` ran it; ``timings_ms`` per candidate timed alone (empty if not tuned);
    ``context_ms`` per contender timed inside whole runs of the model (empty where there was no contest)."""

    node: str
    op_type: str
    algorithm: str
    #: "heuristic", "tuned" (fastest alone), "tuned in context" (fastest inside whole runs), "cache" (tuned
    #: alone earlier on this machine) or "user"
    source: str = "heuristic"
    timings_ms: dict[str, float] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # candidate -> why it does not apply
    input_shape: Optional[list[int]] = None
    context_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class Plan:
    """Everything needed to rebuild the compiled engine; see the module docstring."""

    model: str  # where the model came from (path or zoo name), for people
    model_digest: str  # sha256 of the model as loaded, before passes: a plan refuses another model
    passes: list[str]
    threads: int
    batch: int
    device: str = "cpu"
    machine: dict[str, Any] = field(default_factory=dict)
    nodes: list[NodePlan] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)
    pass_report: list[dict[str, Any]] = field(default_factory=list)
    #: multi-core strategy: {"name", "workers", "options", "timings_ms" (per candidate, when chosen
    #: by measurement), "describe"}; empty: the engine alone, on ``threads`` torch threads.
    strategy: dict[str, Any] = field(default_factory=dict)
    #: tuned vs heuristic plan, timed on the whole model: {"kept": ..., "whole_model_ms": {...} (each plan's
    #: median), "tuned_over_heuristic": the median over the rounds of their ratio, which decided}
    validation: dict[str, Any] = field(default_factory=dict)
    #: the contest inside whole runs (jiasu.plan.tune.tune_in_context): {"nodes", "engines", "rounds",
    #: "changed", "seconds"}; empty where it did not run
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def conv_algorithms(self) -> dict[str, str]:
        return {n.node: n.algorithm for n in self.nodes}

    def to_json(self) -> str:
        data = {"format": FORMAT, "version": VERSION, **asdict(self)}
        return json.dumps(data, indent=2) + "\n"

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_json())
        return path

    @classmethod
    def from_json(cls, text: str, where: str = "plan") -> "Plan":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise JiasuError(f"{where} is not a jiasu plan: invalid JSON ({e}); write one with `jiasu compile MODEL -o FILE`") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise JiasuError(f"{where} is not a jiasu plan (no \"format\": \"{FORMAT}\"); write one with `jiasu compile MODEL -o FILE`")
        if data.get("version") != VERSION:
            raise JiasuError(f"{where} is a version {data.get('version')} plan; this jiasu reads version {VERSION}: compile it again")
        data = {k: v for k, v in data.items() if k not in ("format", "version")}
        try:
            nodes = [NodePlan(**n) for n in data.pop("nodes", [])]
            return cls(nodes=nodes, **data)
        except TypeError as e:
            raise JiasuError(f"{where} is a damaged jiasu plan ({e}); compile it again") from None

    @classmethod
    def load(cls, path: str | Path) -> "Plan":
        path = Path(path)
        if not path.is_file():
            raise JiasuError(f"plan file {str(path)!r} does not exist; write one with `jiasu compile MODEL -o {path}`")
        return cls.from_json(path.read_text(), where=f"plan file {str(path)!r}")
