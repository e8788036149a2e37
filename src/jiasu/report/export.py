"""Results as CSV (one row per result, the table's columns), JSON (everything) and Markdown (the table)."""

from __future__ import annotations

import csv
import io
import json
from typing import Sequence

from ..bench.result import BenchResult
from ..bench.store import Store, json_safe
from .tables import COLUMNS, fmt, ordered, row, rows


def to_csv(results: Sequence[BenchResult]) -> str:
    """The table's columns plus threads and the resolved options (as JSON), at full precision."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=[k for k, _ in COLUMNS] + ["threads", "options"], lineterminator="\n")
    writer.writeheader()
    for r in ordered(results):
        writer.writerow({**row(r), "threads": r.threads, "options": json.dumps(r.options, sort_keys=True)})
    return buffer.getvalue()


def to_json(store: Store, results: Sequence[BenchResult]) -> str:
    """The sweeps' headers (settings, environment) and the full results, samples included."""
    runs = [store.runs[i] for i in dict.fromkeys(r.run_id for r in results) if i in store.runs]
    return json.dumps(json_safe({"runs": runs, "results": [r.to_dict() for r in results]}), indent=2, default=str) + "\n"


def to_markdown(results: Sequence[BenchResult], columns: Sequence[str] = ("configuration", "batch", "per_image_ms", "median_ms", "p10_ms", "p90_ms", "throughput_per_s", "compile_s", "rel_l2", "status")) -> str:
    """A GitHub Markdown table of ``columns`` (keys of ``COLUMNS``); errors are listed under it."""
    headings = dict(COLUMNS)
    lines = ["| " + " | ".join(headings[c] for c in columns) + " |", "|" + "|".join("---" if c in ("model", "configuration", "status", "error") else "---:" for c in columns) + "|"]
    errors = []
    for r in rows(results):
        lines.append("| " + " | ".join(fmt(c, r[c]).replace("|", "\\|") for c in columns) + " |")
        if r["error"] and "error" not in columns:
            errors.append(f"- {r['configuration']} at batch {r['batch']}: {r['status']}: {r['error']}")
    return "\n".join(lines + ([""] + errors if errors else [])) + "\n"
