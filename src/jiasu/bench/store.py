"""The results store: an append-only JSON Lines file.

Two kinds of record, one per line, told apart by ``kind``:

- ``{"kind": "run", "run_id": ..., "model": ..., "batches": [...], "configurations": [...],
  "settings": {...}, "environment": {...}}``, written when a sweep starts and again, with
  ``finished_at``, when it ends (readers keep the last header of a run id);
- ``{"kind": "result", "run_id": ..., ...}``, one per (configuration, batch), written as
  soon as it is measured (see :class:`~jiasu.bench.result.BenchResult`).

Appending never rewrites earlier lines, so an interrupted sweep keeps what it
measured and several sweeps can share one file.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Union

from ..errors import JiasuError
from .result import BenchResult

Record = Union[BenchResult, dict]


def json_safe(value: Any) -> Any:
    # JSON has no inf/nan: write them as strings rather than emitting invalid JSON.
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def to_json(record: Record) -> str:
    data = record.to_dict() if isinstance(record, BenchResult) else record
    return json.dumps(json_safe(data), default=str)


def append(path: Union[str, Path], records: Iterable[Record]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for record in records:
            f.write(to_json(record) + "\n")


@dataclass
class Store:
    """What a store file holds: sweep headers by run id, and results in file order."""

    runs: dict[str, dict] = field(default_factory=dict)
    results: list[BenchResult] = field(default_factory=list)

    def latest(self) -> list[BenchResult]:
        """One result per (model, configuration, batch, threads): the last one written."""
        last: dict[tuple, BenchResult] = {}
        for r in self.results:
            key = (r.model, r.configuration, r.batch, r.threads)
            last.pop(key, None)  # re-insert, so order follows the latest measurement
            last[key] = r
        return list(last.values())


def load(paths: Union[str, Path, Iterable[Union[str, Path]]]) -> Store:
    """Read one or more store files (later files win in :meth:`Store.latest`)."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    store = Store()
    for path in map(Path, paths):
        if not path.exists():
            raise JiasuError(f"results file not found: {path} (write one with `jiasu bench MODEL --store {path}`)")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as e:
                raise JiasuError(f"{path}:{number} is not valid JSON ({e.msg}); is this a jiasu results file?") from None
            kind = data.get("kind") if isinstance(data, dict) else None
            if kind == "run":
                store.runs[data["run_id"]] = data
            elif kind == "result":
                store.results.append(BenchResult.from_dict(data))
            else:
                raise JiasuError(f"{path}:{number} is not a jiasu record (kind {kind!r}, expected 'run' or 'result')")
    return store
