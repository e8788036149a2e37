"""`jiasu compile`: passes, per-node algorithm tuning and the memory plan, written as a plan file."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import MODEL_HELP, _friendly_errors, _print_json, app, console, err_console, parse_passes


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB"


@app.command("compile")
@_friendly_errors
def compile_cmd(
    model: Optional[str] = typer.Argument(None, help=MODEL_HELP),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="write the plan here (JSON); default: print only"),
    batch: int = typer.Option(1, "--batch", min=1, help="batch size the algorithms are tuned for"),
    threads: int = typer.Option(0, "--threads", min=0, help="intra-op threads (0: torch's default)"),
    passes: str = typer.Option("default", "--passes", help="default, none, or a comma-separated list of passes"),
    tune: bool = typer.Option(True, "--tune/--no-tune", help="time every applicable algorithm per conv node (else the heuristic)"),
    budget: float = typer.Option(120.0, "--budget", min=0.0, help="seconds the tuning may take in all; untuned nodes keep the heuristic"),
    cache: bool = typer.Option(True, "--cache/--no-cache", help="reuse and record tuning results on disk ($JIASU_CACHE_DIR or ~/.cache/jiasu)"),
    strategy: Optional[str] = typer.Option(
        None, "--strategy", help="multi-core strategy: auto (time them all, keep the fastest), sequential, intra_op, batch, pipeline, spatial, inter_op[:policy=...]"
    ),
    workers: int = typer.Option(2, "--workers", min=1, help="cores the strategy uses"),
    list_passes: bool = typer.Option(False, "--list-passes", help="list the graph passes and exit"),
    as_json: bool = typer.Option(False, "--json", help="print the plan as JSON"),
):
    """Compile a model for this machine: graph passes, per-node conv algorithm by measurement, memory plan."""
    from ..errors import JiasuError
    from ..plan import compile_model

    if list_passes:
        return _list_passes(as_json)
    if model is None:
        raise JiasuError("give a model to compile (an .onnx file or zoo:NAME), or --list-passes")
    names = parse_passes(passes)
    with Progress(
        TextColumn("tuning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.description}"),
        console=err_console, transient=True, disable=as_json or not tune,
    ) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, node: str) -> None:
            bar.update(task, completed=done, total=total, description=escape(node))

        compiled = compile_model(
            model, batch=batch, threads=threads, passes=names, tune_algorithms=tune, budget_s=budget, use_cache=cache, progress=progress,
            strategy=strategy, workers=workers,
        )
    plan = compiled.plan
    if output is not None:
        plan.save(output)
    if as_json:
        return _print_json(__import__("json").loads(plan.to_json()))
    _print_plan(plan)
    if output is not None:
        console.print(f"wrote [bold]{output}[/]; run it with `jiasu run {model} --plan {output}`")


def _list_passes(as_json: bool) -> None:
    from ..passes import DEFAULT_PASSES, PASSES

    rows = [{"name": n, "default": n in DEFAULT_PASSES, "description": (c.__doc__ or "").strip().splitlines()[0]} for n, c in PASSES.items()]
    if as_json:
        return _print_json(rows)
    table = Table(title="graph passes (default order: " + ", ".join(DEFAULT_PASSES) + ")")
    for col in ("pass", "default", "what it does"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], "yes" if r["default"] else "", r["description"])
    console.print(table)


def _print_plan(plan) -> None:
    console.print(f"[bold]{plan.model}[/]: plan for batch {plan.batch}, {plan.threads} threads, {plan.device}")
    for r in plan.pass_report:
        console.print(f"  pass {escape(r['summary'])}")
    table = Table(title="per-node algorithm (ms per run of the node, best of round-robin timings)")
    table.add_column("node", overflow="fold")
    table.add_column("op")
    table.add_column("input")
    table.add_column("chosen")
    table.add_column("how")
    table.add_column("candidates alone (ms)", overflow="fold")
    table.add_column("in the whole model (ms)", overflow="fold")
    for n in plan.nodes:
        alone, inside = ((", ".join(f"{k} {v:.3f}" for k, v in sorted(t.items(), key=lambda kv: kv[1]))) for t in (n.timings_ms, n.context_ms))
        table.add_row(n.node, n.op_type, "x".join(map(str, n.input_shape or [])), n.algorithm, n.source, alone, inside)
    console.print(table)
    counts = collections.Counter(n.algorithm for n in plan.nodes)
    console.print("  algorithms: " + ", ".join(f"{k} x{v}" for k, v in counts.most_common()))
    if plan.context.get("nodes"):
        c = plan.context
        console.print(f"  in context: {c['nodes']} nodes' close contenders timed inside whole runs ({c['engines']} engines, {c['rounds']} rounds, {c['seconds']} s); {c['changed']} changed their pick")
    v = plan.validation
    if v.get("whole_model_ms"):
        ms = v["whole_model_ms"]
        paired = f", tuned / heuristic {v['tuned_over_heuristic']:.3f} (median of the rounds)" if "tuned_over_heuristic" in v else ""
        console.print(f"  whole model: heuristic {ms['heuristic']:.3f} ms, tuned {ms['tuned']:.3f} ms{paired} -> kept the [bold]{v['kept']}[/] plan")
    if plan.strategy:
        st = plan.strategy
        opts = "".join(f" {k}={v}" for k, v in st["options"].items())
        console.print(f"  strategy: [bold]{st['name']}[/]{opts} on {st['workers']} workers")
        timed = {k: v for k, v in st["timings_ms"].items() if isinstance(v, float)}
        if timed:
            console.print("    measured (ms per run): " + ", ".join(f"{k} {v:.3f}" for k, v in sorted(timed.items(), key=lambda kv: kv[1])))
    m = plan.memory
    if m:
        console.print(
            f"  memory: planned arena {_mib(m['arena_bytes'])} vs naive {_mib(m['naive_bytes'])} "
            f"({100 * m['arena_vs_naive']:.1f}%), live peak {_mib(m['live_peak_bytes'])}, {m['buffers']} buffers"
        )
