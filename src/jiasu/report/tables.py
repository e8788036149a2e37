"""Result rows for every output format: one dict per result, with the columns the tables show."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

from ..bench.result import BenchResult

# (key, heading) in display order; every format shows these.
COLUMNS = (
    ("model", "model"),
    ("configuration", "configuration"),
    ("batch", "batch"),
    ("status", "status"),
    ("per_image_ms", "ms / image"),
    ("median_ms", "ms / batch"),
    ("p10_ms", "p10"),
    ("p90_ms", "p90"),
    ("min_ms", "min"),
    ("throughput_per_s", "images / s"),
    ("compile_s", "compile s"),
    ("first_run_s", "first run s"),
    ("peak_rss_mb", "peak RSS MB"),
    ("rel_l2", "rel. L2 error"),
    ("error", "error"),
)


def runs_text(settings: Mapping[str, Any]) -> str:
    """How a sweep timed each (configuration, batch), from its settings: "20 timed runs, more until 0.5 s of them,
    in 4 turns taken in rotation" (runs stored before ``min_time_s`` and ``rounds`` existed lack those parts)."""
    text = f"{settings.get('repeats')} timed runs"
    if settings.get("min_time_s"):
        text += f", more until {settings['min_time_s']:g} s of them"
    if (settings.get("rounds") or 1) > 1:
        text += f", in {settings['rounds']} turns taken in rotation"
    return text


def series_label(result: BenchResult, results: Sequence[BenchResult]) -> str:
    """The configuration, with the thread count where the results mix several."""
    if len({r.threads for r in results if r.model == result.model}) > 1:
        return f"{result.configuration} ({result.threads} threads)"
    return result.configuration


def row(result: BenchResult, results: Sequence[BenchResult] = ()) -> dict[str, Any]:
    t = result.time_ms or {}
    return {
        "model": result.model,
        "configuration": series_label(result, results or [result]),
        "batch": result.batch,
        "status": result.status,
        "per_image_ms": result.per_image_ms,
        "median_ms": t.get("median"),
        "p10_ms": t.get("p10"),
        "p90_ms": t.get("p90"),
        "min_ms": t.get("min"),
        "throughput_per_s": result.throughput_per_s,
        "compile_s": result.compile_s,
        "first_run_s": result.first_run_s,
        "peak_rss_mb": result.peak_rss_mb,
        "rel_l2": result.rel_l2,
        "error": result.error,
    }


def ordered(results: Sequence[BenchResult]) -> list[BenchResult]:
    """Results by model, then configuration (in first-seen order), threads, batch."""
    order: dict[tuple[str, str], int] = {}
    for r in results:
        order.setdefault((r.model, r.configuration), len(order))
    return sorted(results, key=lambda r: (r.model, order[(r.model, r.configuration)], r.threads or 0, r.batch))


def rows(results: Sequence[BenchResult]) -> list[dict[str, Any]]:
    return [row(r, results) for r in ordered(results)]


def fmt(key: str, value: Any) -> str:
    """A cell as text: 3 significant digits for times, fewer for big numbers, '' for missing."""
    if value is None:
        return ""
    if key == "rel_l2":
        return f"{value:.1e}" if isinstance(value, float) else str(value)
    if key == "throughput_per_s" or key == "peak_rss_mb":
        return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
    if isinstance(value, float):
        return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"
    return str(value)


def rich_table(results: Sequence[BenchResult], title: Optional[str] = None):
    """A rich Table of the results (errors shortened; the store and the HTML report keep them whole)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title)
    shown = [(k, h) for k, h in COLUMNS if k not in ("p10_ms", "p90_ms", "min_ms")]
    for key, heading in shown:
        table.add_column(heading, justify="left" if key in ("model", "configuration", "status", "error") else "right")
    style = {"ok": "", "mismatch": "yellow", "unavailable": "dim"}
    for r in rows(results):
        cells = []
        for key, _ in shown:
            text = fmt(key, r[key])
            if key == "median_ms" and r["p10_ms"] is not None:
                text = f"{text} ({fmt(key, r['p10_ms'])}-{fmt(key, r['p90_ms'])})"
            if key == "error" and len(text) > 80:
                text = text[:77] + "..."
            # Text, not a markup string: labels such as "jiasu[strategy=mixed]" would otherwise lose their
            # brackets to rich's markup parser.
            cells.append(Text(text))
        table.add_row(*cells, style=style.get(r["status"], "red"))
    return table
