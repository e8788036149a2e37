"""What the resumable training benchmarks share: finished rows cached on disk, and the JSON record they end with.

Imported by scripts in this folder (``python benchmarks/NAME.py`` puts it on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable, Hashable

import torch


class RowCache:
    """Rows already computed, one JSON line each in ``folder/name``, keyed by ``key(row)``; reruns reuse them."""

    def __init__(self, folder: Path, name: str, key: Callable[[dict], Hashable]) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path, self.key = folder / name, key
        lines = self.path.read_text().splitlines() if self.path.exists() else []
        self.rows = {key(r): r for r in map(json.loads, lines)}

    def get(self, k: Hashable, compute: Callable[[], dict]) -> dict:
        """The row under ``k``, computed by ``compute()`` and appended to the file if it is not there yet."""
        if k not in self.rows:
            row = compute()
            self.rows[k] = row
            with self.path.open("a") as f:
                f.write(json.dumps(row) + "\n")
        return self.rows[k]


def started() -> dict[str, Any]:
    """Call at the start of the timed work; :func:`environment` reads it back."""
    return {"start": time.perf_counter(), "load_before": list(os.getloadavg())}


def environment(start: dict[str, Any]) -> dict[str, Any]:
    """Date, machine, versions, load before and after, and the seconds since :func:`started`."""
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "load_before": start["load_before"],
        "load_after": list(os.getloadavg()),
        "wall_seconds": time.perf_counter() - start["start"],
    }


def write_record(out: Path, results: dict[str, Any], markdown: str) -> None:
    """Write ``results`` as JSON to ``out`` and print the table with where it went."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print("\n" + markdown + f"\n\nwrote {out}")
