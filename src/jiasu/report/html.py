"""The HTML report: one self-contained page (inline CSS, plots as base64 PNG, no scripts, no network).

Per model: the per-image-time plots (linear and log time axis) side by side,
the throughput plot, and the results table. Then the environment of every
sweep the results come from, and how to read the numbers.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from html import escape
from typing import Any, Sequence

from ..bench.result import BenchResult
from ..bench.store import Store
from .plots import PLOTS, models, plot_png
from .tables import COLUMNS, fmt, rows, runs_text

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 16px 24px; color: #1b1b1b; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.summary { color: #555; margin: 0 0 12px; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; } figure img { width: 560px; max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 12px; color: #666; }
table { border-collapse: collapse; font-size: 12px; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: right; vertical-align: top; }
th { background: #f4f4f4; } td.text { text-align: left; }
tr.mismatch td { background: #fff6d6; } tr.failed td, tr.timeout td, tr.crashed td { background: #fde4e4; }
tr.unavailable td { color: #888; }
td.error { max-width: 420px; text-align: left; font-size: 11px; color: #a00; }
dl.env { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; font-size: 13px; }
dl.env dt { color: #555; } dl.env dd { margin: 0; }
.notes li { margin: 3px 0; }
"""

NOTES = [
    "<b>ms / image</b>: median wall time of one forward pass over the batch, divided by the batch size. "
    "<b>ms / batch</b> is that median per call; p10 / p90 / min are over the timed calls.",
    "<b>images / s</b>: batch size / median time per call.",
    "<b>compile s</b>: building the backend for this batch (session, engine, compiled model); "
    "<b>first run s</b>: the first call, which holds lazy work such as torch.compile's code generation. "
    "Neither enters the per-image time; warm-up calls after the first are untimed too.",
    "<b>rel. L2 error</b>: ||y - y_ref|| / ||y_ref|| against ONNX Runtime (CPU, all graph optimizations) on the same "
    "seeded inputs, largest over the outputs, checked once before timing. Above the tolerance a result is a "
    "<i>mismatch</i>: timed, but drawn dashed, because its numbers are wrong.",
    "<b>peak RSS MB</b>: the process's resident-memory high-water mark while compiling and running this "
    "(configuration, batch), reset before it where Linux allows (scope <i>batch</i>), else over the whole process. "
    "It includes Python, torch and every loaded library (a few hundred MB), so compare differences between rows. "
    "With --isolate every configuration runs in its own process.",
    "All configurations of a sweep get the same thread count; the settings each backend ran with are in the JSON export.",
]


def _png(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _table(results: Sequence[BenchResult]) -> str:
    text_cols = {"model", "configuration", "status"}
    head = "".join(f"<th>{escape(h)}</th>" for k, h in COLUMNS if k != "model")
    body = []
    for r in rows(results):
        cells = []
        for key, _ in COLUMNS:
            if key == "model":
                continue
            value = escape(fmt(key, r[key]))
            cls = "error" if key == "error" else ("text" if key in text_cols else "")
            cells.append(f'<td class="{cls}">{value}</td>' if cls else f"<td>{value}</td>")
        body.append(f'<tr class="{escape(r["status"])}">{"".join(cells)}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _env_list(items: list[tuple[str, Any]]) -> str:
    return '<dl class="env">' + "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in items if v not in (None, "")) + "</dl>"


def _environment(run: dict) -> str:
    env = run.get("environment", {})
    cpu = env.get("cpu", {})
    settings = run.get("settings", {})
    libs = ", ".join(f"{k} {v}" for k, v in env.get("libraries", {}).items() if v)
    peak = env.get("gemm_peak")
    items = [
        ("run", f"{run.get('run_id')} ({run.get('started_at')} to {run.get('finished_at', '?')})"),
        ("model", run.get("model")),
        ("configurations", ", ".join(run.get("configurations", []))),
        ("batch sizes", ", ".join(map(str, run.get("batches", [])))),
        (
            "settings",
            f"threads {settings.get('threads')}, {runs_text(settings)}, after {settings.get('warmup')} warm-up, "
            f"timeout {settings.get('timeout_s')} s, tolerance {settings.get('tolerance')}, "
            f"isolate {settings.get('isolate')}, seed {settings.get('seed')}",
        ),
        ("reference", run.get("reference")),
        ("CPU", f"{cpu.get('model')} ({cpu.get('vendor')}, family/model/stepping {cpu.get('family_model_stepping', '?')})"),
        ("ISA extensions", ", ".join(cpu.get("isa", [])) or "none detected"),
        ("cores", f"{cpu.get('usable_cores')} usable of {cpu.get('logical_cores')} logical{' (virtual machine)' if cpu.get('virtualized') else ''}"),
        ("memory", f"{env['memory_gb']} GB" if env.get("memory_gb") else None),
        ("FP32 GEMM peak", f"{peak['gflops']} GFLOP/s ({peak['via']}, {peak['threads']} threads, measured {peak['measured_at']})" if peak else None),
        ("OS", env.get("os")),
        ("Python", env.get("python")),
        ("libraries", libs),
        ("load average (1 min) at start", env.get("load_average_1m")),
    ]
    if run.get("reference_errors"):
        items.append(("reference errors", "; ".join(f"batch {b}: {e}" for b, e in run["reference_errors"].items())))
    return _env_list(items)


def render_html(store: Store, results: Sequence[BenchResult], title: str = "jiasu benchmark") -> str:
    """The report page for ``results`` (the sweeps they belong to are looked up in ``store``)."""
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
    ]
    model_names = models(results)
    n_ok = sum(r.timed for r in results)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(
        f'<p class="summary">{len(results)} results ({n_ok} timed) for {escape(", ".join(model_names) or "no model")}; '
        f"generated {generated}.</p>"
    )
    for i, model in enumerate(model_names):
        mine = [r for r in results if r.model == model]
        parts.append(f'<section class="model"><h2>{escape(model)}</h2>')
        parts.append('<div class="plots">')
        for kind, (ylabel, _, _) in PLOTS.items():
            alt = f"{model}: {ylabel} vs batch size, one line per configuration"
            parts.append(
                f'<figure><img id="plot-{i}-{kind}" alt="{escape(alt)}" src="{_png(plot_png(results, model, kind))}">'
                f"<figcaption>{escape(ylabel)} vs batch size (log2 axis)</figcaption></figure>"
            )
        parts.append("</div>")
        parts.append(_table(mine))
        parts.append("</section>")
    run_ids = list(dict.fromkeys(r.run_id for r in results))
    parts.append("<h2>Environment</h2>")
    for run_id in run_ids:
        run = store.runs.get(run_id)
        if run is None:
            parts.append(f"<p>run {escape(str(run_id))}: no header record in the store.</p>")
        else:
            parts.append(_environment(run))
    parts.append('<h2>How to read this</h2><ul class="notes">' + "".join(f"<li>{n}</li>" for n in NOTES) + "</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
