"""Reports of benchmark results: a self-contained HTML page, CSV, JSON and Markdown, and PNG plots.

>>> from jiasu.report import write_report
>>> write_report("results.jsonl", ["report.html", "results.csv"])   # the format follows the suffix
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional, Sequence, Union

from ..bench.result import BenchResult
from ..bench.store import Store, load
from ..errors import JiasuError
from .export import to_csv, to_json, to_markdown
from .html import render_html
from .plots import plot_png, save_figures
from .tables import rich_table, rows

FORMATS = (".html", ".csv", ".json", ".md")

PathLike = Union[str, Path]


def render(store: Store, results: Sequence[BenchResult], suffix: str) -> str:
    if suffix == ".html":
        return render_html(store, results)
    if suffix == ".csv":
        return to_csv(results)
    if suffix == ".json":
        return to_json(store, results)
    if suffix == ".md":
        return to_markdown(results)
    raise JiasuError(f"cannot write a report as {suffix or 'a file without suffix'!r}; use one of {', '.join(FORMATS)}")


def write_report(
    source: Union[PathLike, Iterable[PathLike], Store],
    outputs: Iterable[PathLike],
    results: Optional[Sequence[BenchResult]] = None,
    all_results: bool = False,
) -> list[Path]:
    """Write each output (format from its suffix) from a store file, several, or a loaded :class:`Store`.

    By default only the latest result per (model, configuration, batch, threads)
    is reported; ``all_results`` keeps every line; ``results`` picks them yourself.
    """
    store = source if isinstance(source, Store) else load(source)
    if results is None:
        results = store.results if all_results else store.latest()
    outputs = [Path(o) for o in outputs]
    for out in outputs:  # check every suffix before writing any file
        if out.suffix.lower() not in FORMATS:
            render(store, results, out.suffix.lower())
    for out in outputs:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(store, results, out.suffix.lower()), encoding="utf-8")
    return outputs


__all__ = ["FORMATS", "plot_png", "render_html", "rich_table", "rows", "save_figures", "to_csv", "to_json", "to_markdown", "write_report"]
