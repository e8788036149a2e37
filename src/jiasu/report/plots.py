"""Plots of a sweep: per-image time vs batch size (linear and log time axis) and throughput, one line per configuration.

Drawn with matplotlib's Agg canvas directly (no pyplot, no global backend
switch), returned as PNG bytes: the HTML report embeds them as base64, and
``save_figures`` writes them as files. The batch axis is logarithmic (base 2)
in every plot, so 1..256 spread evenly. Mismatched results (wrong numbers)
are drawn dashed with "(mismatch)" in the legend; failed points are left out.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

from ..bench.result import BenchResult
from .tables import series_label

PLOTS = {
    "per_image_linear": ("per-image time (ms), linear scale", "per_image_ms", False),
    "per_image_log": ("per-image time (ms), log scale", "per_image_ms", True),
    "throughput": ("throughput (images / s)", "throughput_per_s", False),
}


def models(results: Sequence[BenchResult]) -> list[str]:
    return list(dict.fromkeys(r.model for r in results))


def _series(results: Sequence[BenchResult], model: str) -> dict[str, list[BenchResult]]:
    series: dict[str, list[BenchResult]] = {}
    for r in results:
        if r.model == model and r.timed:
            series.setdefault(series_label(r, results), []).append(r)
    return {k: sorted(v, key=lambda r: r.batch) for k, v in series.items()}


def plot_png(results: Sequence[BenchResult], model: str, kind: str, dpi: int = 100) -> bytes:
    """One plot (a key of ``PLOTS``) for ``model`` as PNG bytes."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, NullLocator

    ylabel, field, log_y = PLOTS[kind]
    series = _series(results, model)
    fig = Figure(figsize=(6.4, 4.4 + 0.17 * ((len(series) + 1) // 2)), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["tab10" if len(series) <= 10 else "tab20"]
    batches = sorted({r.batch for rs in series.values() for r in rs})
    for i, (label, rs) in enumerate(series.items()):
        mismatch = any(r.status == "mismatch" for r in rs)
        ax.plot(
            [r.batch for r in rs],
            [getattr(r, field) for r in rs],
            marker="o",
            markersize=4,
            linewidth=1.6,
            linestyle="--" if mismatch else "-",
            color=cmap(i % cmap.N),
            label=label + (" (mismatch)" if mismatch else ""),
        )
    ax.set_xscale("log", base=2)
    if batches:
        ax.xaxis.set_major_locator(FixedLocator(batches))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([str(b) for b in batches])
    if log_y:
        ax.set_yscale("log")
    else:
        ax.set_ylim(bottom=0)
    ax.set_xlabel("batch size")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{model}: {ylabel.split(' (')[0]}{', log scale' if log_y else ''}", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if series:  # below the axes, so no line is hidden behind it however many configurations there are
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    else:
        ax.text(0.5, 0.5, "no timed results", ha="center", va="center", transform=ax.transAxes)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def save_figures(results: Sequence[BenchResult], directory: str | Path, prefix: str = "", dpi: int = 100) -> list[Path]:
    """Every plot of every model as ``<prefix><model>_<kind>.png`` under ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for model in models(results):
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in model.removeprefix("zoo:"))
        for kind in PLOTS:
            path = directory / f"{prefix}{stem}_{kind}.png"
            path.write_bytes(plot_png(results, model, kind, dpi))
            written.append(path)
    return written
