"""The ``jiasu`` command line: a thin layer over the public Python API.

Every command takes ``--json`` and then prints one JSON document and nothing
else. Errors in the user's input (:class:`JiasuError`) print one clear message
and exit with status 2, never a traceback.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..errors import JiasuError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="jiasu (加速): make trained networks fast where they run.",
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

MODEL_HELP = "an .onnx file, or zoo:NAME[?key=value&...] (see `jiasu zoo`)"


def _friendly_errors(fn):
    """Turn JiasuError into 'error: ...' on stderr and exit status 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except JiasuError as e:
            err_console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def _print_json(data) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


@app.command("zoo")
@_friendly_errors
def zoo_cmd(as_json: bool = typer.Option(False, "--json", help="print JSON")):
    """List the built-in model zoo."""
    from .. import zoo

    rows = []
    for name in zoo.names():
        e = zoo.entry(name)
        rows.append(
            {
                "name": name,
                "task": e.task,
                "input_shape": list(e.input_shape(**e.defaults)),
                "options": e.defaults,
                "weights": zoo.available_weights(name),
                "description": e.description,
            }
        )
    if as_json:
        return _print_json(rows)
    table = Table(title="jiasu model zoo (use as zoo:NAME, options as zoo:NAME?key=value, trained weights as ?weights=TAG)")
    for col in ("name", "task", "input", "options", "weights", "description"):
        table.add_column(col, overflow="fold")
    for r in rows:
        opts = "\n".join(f"{k}={v}" for k, v in r["options"].items())
        table.add_row(r["name"], r["task"], "x".join(map(str, r["input_shape"])), opts, "\n".join(r["weights"]) or "-", r["description"])
    console.print(table)


@app.command("export")
@_friendly_errors
def export_cmd(
    model: str = typer.Argument(..., help="zoo:NAME[?key=value&...]"),
    output: Path = typer.Option(..., "-o", "--output", help="where to write the .onnx file"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
):
    """Export a zoo model to an ONNX file (opset 17, dynamic batch axis)."""
    from ..frontends import ZOO_PREFIX, export_zoo, load_onnx

    if not model.startswith(ZOO_PREFIX):
        raise JiasuError(f"export takes a zoo model (zoo:NAME), got {model!r}; an .onnx file is already exported")
    data = export_zoo(model)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    graph = load_onnx(data).graph
    info = {"model": model, "output": str(output), "bytes": len(data), "nodes": len(graph), "opset": 17}
    if as_json:
        return _print_json(info)
    console.print(f"wrote [bold]{output}[/] ({len(data) / 1e6:.1f} MB, {len(graph)} nodes, opset 17)")


def model_info(model) -> dict:
    """Inputs, outputs, opset, parameter count and op histogram of a loaded model."""
    from ..frontends.inputs import model_inputs

    graph = model.graph

    def describe(v):
        shape = None if v.shape is None else [d if isinstance(d, int) else str(d.value) for d in v.shape]
        return {"name": v.name, "dtype": v.dtype.name if v.dtype is not None else None, "shape": shape}

    params = sum(int(v.const_value.size) for v in graph.initializers.values() if v.const_value is not None)
    hist = collections.Counter(n.op_type for n in graph)
    return {
        "inputs": [describe(v) for v in model_inputs(model)],
        "outputs": [describe(v) for v in graph.outputs],
        "opset": model.opset_imports.get("", None),
        "nodes": len(graph),
        "parameters": params,
        "ops": dict(hist.most_common()),
    }


@app.command("info")
@_friendly_errors
def info_cmd(model: str = typer.Argument(..., help=MODEL_HELP), as_json: bool = typer.Option(False, "--json", help="print JSON")):
    """Inputs, outputs, parameters and the op histogram of a model."""
    from ..frontends import load

    info = {"model": model, **model_info(load(model))}
    if as_json:
        return _print_json(info)
    console.print(f"[bold]{model}[/]: opset {info['opset']}, {info['nodes']} nodes, {info['parameters']:,} parameters")
    for kind in ("inputs", "outputs"):
        for v in info[kind]:
            console.print(f"  {kind[:-1]:6} {v['name']}: {v['dtype']} {v['shape']}")
    table = Table(title="op histogram")
    table.add_column("op")
    table.add_column("count", justify="right")
    for op, n in info["ops"].items():
        table.add_row(op, str(n))
    console.print(table)


def _parse_pairs(items: List[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise JiasuError(f"{what} must look like NAME=VALUE, got {item!r}")
        out[key] = value
    return out


def _load_feeds(model, batch: int, seed: int, inputs: dict[str, str]) -> dict:
    import numpy as np

    from ..frontends.inputs import example_feeds

    feeds = example_feeds(model, batch=batch, seed=seed) if not inputs else {}
    for name, path in inputs.items():
        p = Path(path)
        if not p.exists():
            raise JiasuError(f"input file not found: {p}")
        try:
            feeds[name] = np.load(p, allow_pickle=False)
        except ValueError as e:
            raise JiasuError(f"cannot read {p} as a .npy array: {e}") from None
    return feeds


def _output_summary(name: str, value) -> dict:
    import numpy as np

    arr = value.detach().cpu().numpy()
    summary = {"name": name, "shape": list(arr.shape), "dtype": str(arr.dtype)}
    if arr.size and np.issubdtype(arr.dtype, np.number):
        a64 = arr.astype(np.float64)
        summary.update(min=float(a64.min()), max=float(a64.max()), mean=float(a64.mean()), std=float(a64.std()))
        if arr.ndim == 2 and arr.shape[1] > 1:
            top = np.argsort(-a64[0])[:5]
            summary["top5_first_item"] = [[int(i), float(a64[0, i])] for i in top]
    return summary


COMPARE_WITH = ("onnxruntime",)


@app.command("run")
@_friendly_errors
def run_cmd(
    model: str = typer.Argument(..., help=MODEL_HELP),
    algo: str = typer.Option(
        "auto", "--algo", help="conv algorithm for every Conv node: auto (the planner's heuristic) or a name (falls back to direct where it does not apply)"
    ),
    node_algo: List[str] = typer.Option([], "--node-algo", help="NODE=ALGO for one Conv node (strict); repeatable"),
    plan_file: Optional[Path] = typer.Option(None, "--plan", help="a plan from `jiasu compile` (passes and per-node algorithms); excludes --algo/--node-algo/--passes"),
    passes: str = typer.Option("default", "--passes", help="graph passes first: default, none, or a comma-separated list (see `jiasu compile --list-passes`)"),
    batch: int = typer.Option(1, "--batch", min=1, help="batch size of generated inputs"),
    inputs: List[str] = typer.Option([], "--input", help="NAME=file.npy to feed real data; repeatable"),
    compare: Optional[str] = typer.Option(None, "--compare", help="also run this engine and report the error: onnxruntime"),
    repeats: int = typer.Option(10, "--repeats", min=1, help="timed runs"),
    warmup: int = typer.Option(2, "--warmup", min=0, help="untimed runs first"),
    threads: int = typer.Option(0, "--threads", min=0, help="intra-op threads (0: torch's default)"),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda"),
    cuda_graph: bool = typer.Option(True, "--cuda-graph/--no-cuda-graph", help="on CUDA, replay runs from a CUDA graph"),
    seed: int = typer.Option(0, "--seed", help="seed of the generated inputs"),
    per_node: bool = typer.Option(False, "--per-node", help="also time every node (algorithm and ms per node)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
):
    """Run a model on jiasu's engine: outputs, time, and which conv algorithm ran where."""
    from ..bench import measure
    from ..frontends import load
    from ..runtime import Engine, EngineOptions
    from ..runtime.reference import relative_l2, run_onnxruntime

    if compare is not None and compare not in COMPARE_WITH:
        raise JiasuError(f"--compare {compare!r} is not available; choose from: {', '.join(COMPARE_WITH)}")
    from ..passes import optimize
    from ..frontends import copy_model
    from ..plan import runner_from_plan

    loaded = load(model)
    feeds = _load_feeds(loaded, batch, seed, _parse_pairs(inputs, "--input"))
    if plan_file is not None:
        if algo != "auto" or node_algo or passes != "default":
            raise JiasuError("--plan fixes the passes and every node's algorithm; drop --algo, --node-algo and --passes")
        engine, runner = runner_from_plan(loaded, str(plan_file), label=model, feeds=feeds)
        if threads:
            torch_threads(threads)
    else:
        optimized, _ = optimize(copy_model(loaded), parse_passes(passes))
        options = EngineOptions(
            device=device, conv_algorithm=algo, conv_algorithms=_parse_pairs(node_algo, "--node-algo"), threads=threads, cuda_graph=cuda_graph
        )
        engine = runner = Engine(optimized, options)
    outputs = runner.run(feeds)
    if engine.device.type == "cuda":  # launches return at once: time until the device is done
        import torch

        def timed():
            runner.run(feeds)
            torch.cuda.synchronize(engine.device)
    else:
        timed = lambda: runner.run(feeds)  # noqa: E731
    timing = measure(timed, repeats=repeats, warmup=warmup)
    batch_used = next(iter(feeds.values())).shape[0] if feeds else 1
    result = {
        "model": model,
        "batch": int(batch_used),
        "conv_algorithm": algo if plan_file is None else f"plan {plan_file}",
        "passes": passes if plan_file is None else "from the plan",
        "strategy": runner.describe() if runner is not engine else None,
        "outputs": [_output_summary(k, v) for k, v in outputs.items()],
        "time_ms": {k: v * 1e3 if isinstance(v, float) else v for k, v in timing.to_dict().items()},
        "ms_per_item": timing.per_item(batch_used) * 1e3,
        "algorithms": [{"node": c.name, "algorithm": c.choice, "fallback_reason": c.reason} for c in engine.algorithm_report()],
        "device": str(engine.device),
        "cuda_graphs": engine.graph_report() or None,
    }
    if per_node:
        result["nodes"] = engine.node_times(feeds, repeats=repeats)
        in_chains = {r["node"]: r["ms"] for r in engine.chain_times(feeds, repeats=repeats)}
        for n in result["nodes"]:
            n["chain_ms"] = in_chains.get(n["node"])  # timed in C inside whole runs; None outside chains
    if compare:
        ref = run_onnxruntime(loaded, feeds, threads=threads or None)
        result["compare"] = {
            "engine": compare,
            "relative_l2": {k: relative_l2(outputs[k].detach().cpu().numpy(), ref[k]) for k in outputs},
        }
    if as_json:
        return _print_json(result)
    _print_run(result)


def print_node_times(nodes: list[dict], run_ms: float) -> None:
    """The per-node table of ``Engine.node_times`` (with ``Engine.chain_times``' column where chains ran), most costly first."""
    total = sum(n["ms"] for n in nodes) or 1.0
    chained = [n["chain_ms"] for n in nodes if n.get("chain_ms") is not None]
    title = f"per node (best of the runs, step by step): sum {total:.3f} ms; whole run median {run_ms:.3f} ms"
    if chained:
        title += f"; in chains (timed in C inside whole runs) sum {sum(chained):.3f} ms"
    table = Table(title=title)
    columns = ("node", "op", "algorithm", "ms", "in chain ms", "share") if chained else ("node", "op", "algorithm", "ms", "share")
    for col in columns:
        table.add_column(col, overflow="fold", justify="left" if col in ("node", "op", "algorithm") else "right")
    for n in sorted(nodes, key=lambda n: -n["ms"]):
        row = [n["node"], n["op"], n["algorithm"] or "", f"{n['ms']:.3f}"]
        if chained:
            row.append("" if n.get("chain_ms") is None else f"{n['chain_ms']:.3f}")
        table.add_row(*row, f"{100 * n['ms'] / total:.1f}%")
    console.print(table)


def parse_passes(text: str) -> Optional[list[str]]:
    """``default`` -> None (the default pipeline), ``none`` -> [], else the comma-separated names."""
    from ..passes import get_pass

    if text == "default":
        return None
    if text == "none":
        return []
    names = [p.strip() for p in text.split(",") if p.strip()]
    for name in names:
        get_pass(name)
    return names


def torch_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


def _print_run(r: dict) -> None:
    console.print(f"[bold]{r['model']}[/] on jiasu (batch {r['batch']}, --algo {r['conv_algorithm']}, passes {r['passes']})")
    for o in r["outputs"]:
        stats = f" min {o['min']:.4g} max {o['max']:.4g} mean {o['mean']:.4g}" if "mean" in o else ""
        console.print(f"  output {o['name']}: {o['dtype']} {tuple(o['shape'])}{stats}")
        if "top5_first_item" in o:
            console.print("    top-5 of item 0: " + ", ".join(f"{i} ({v:.3g})" for i, v in o["top5_first_item"]))
    t = r["time_ms"]
    console.print(
        f"  time: median {t['median']:.3f} ms per run (p10 {t['p10']:.3f}, p90 {t['p90']:.3f}, {t['repeats']} runs), "
        f"{r['ms_per_item']:.3f} ms per item"
    )
    if r.get("cuda_graphs"):
        g = r["cuda_graphs"]
        console.print(f"  on {r['device']}: {g['captured']} CUDA graph{'s' * (g['captured'] != 1)} captured")
        for shapes, why in g["refused"].items():
            console.print(f"    inputs {shapes} ran without one: {why}")
    if r.get("strategy"):
        st = r["strategy"]
        console.print(f"  strategy: {st.get('strategy', st)} on {st.get('workers', '?')} workers")
    if r["algorithms"]:
        counts = collections.Counter(a["algorithm"] for a in r["algorithms"])
        console.print("  conv algorithms: " + ", ".join(f"{k} x{v}" for k, v in counts.most_common()))
        fell = [a for a in r["algorithms"] if a["fallback_reason"]]
        if fell:
            table = Table(title="Conv nodes that fell back to direct")
            table.add_column("node", overflow="fold")
            table.add_column("why")
            for a in fell:
                table.add_row(a["node"], a["fallback_reason"])
            console.print(table)
    if "nodes" in r:
        print_node_times(r["nodes"], r["time_ms"]["median"])
    if "compare" in r:
        for k, v in r["compare"]["relative_l2"].items():
            console.print(f"  vs {r['compare']['engine']}: output {k} relative L2 error {v:.2e}")


@app.command("profile")
@_friendly_errors
def profile_cmd(
    model: str = typer.Argument(..., help=MODEL_HELP),
    dtype: str = typer.Option(
        "fp32", "--dtype", help="execution dtype: fp32, fp16 or int8 (bytes, energy costs, roofline peak); fp32 only with --plan"
    ),
    batch: Optional[int] = typer.Option(
        None, "--batch", min=1, help="batch size the symbolic batch axis is set to (default 1; with --plan, the plan's batch)"
    ),
    top: int = typer.Option(10, "--top", min=1, help="nodes listed, most costly first"),
    energy_table: Optional[Path] = typer.Option(None, "--energy-table", help="JSON/YAML file overriding the 45 nm energy table"),
    cache_size: Optional[int] = typer.Option(None, "--cache-size", min=0, help="on-chip SRAM bytes of the memory model (default 1 MiB)"),
    roofline: bool = typer.Option(True, "--roofline/--no-roofline", help="place nodes on this machine's roofline (measured once, cached)"),
    threads: int = typer.Option(2, "--threads", min=1, help="threads of the roofline measurement"),
    measured_ms: Optional[float] = typer.Option(None, "--measured-ms", help="measured latency, to report efficiency = floor / measured"),
    html_path: Optional[Path] = typer.Option(None, "--html", help="also write an HTML report with charts to this file"),
    plan_file: Optional[Path] = typer.Option(
        None, "--plan", help="a plan from `jiasu compile` for MODEL: profile the graph it runs (after its passes), with each conv "
        "node's chosen algorithm and measured time, and its multi-core strategy. fp32 only: the plan's engine runs float "
        "tensors in fp32, so --dtype fp16/int8 would profile a graph the plan does not run",
    ),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
):
    """Parameters, MACs, memory, energy and roofline time of a model, per node and in total.

    With --plan PLAN, the graph that plan runs: the node table gains an algorithm column (the plan's
    choice per conv node, and its measured ms where the plan timed it), and a header names the plan,
    its passes and its multi-core strategy.
    """
    from ..analysis import profile
    from ..analysis.report import html_page, rich_report

    if plan_file is not None and dtype in ("fp16", "int8"):
        raise JiasuError(
            f"--plan profiles the graph the plan runs, whose float tensors jiasu's engine runs in fp32; drop --dtype {dtype}, "
            f"or profile without --plan to see {dtype} execution"
        )
    options = {} if cache_size is None else {"cache_bytes": cache_size}
    if plan_file is not None:
        options["plan"] = plan_file
    result = profile(
        model,
        batch=batch,
        dtype=dtype,
        energy=str(energy_table) if energy_table else None,
        machine=None if roofline else False,
        threads=threads,
        measured_s=measured_ms / 1e3 if measured_ms else None,
        **options,
    )
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(html_page(result, top=max(top, 20)), encoding="utf-8")
    if as_json:
        return _print_json(result.to_dict())
    for renderable in rich_report(result, top):
        console.print(renderable)
    if html_path is not None:
        console.print(f"wrote [bold]{html_path}[/]")


@app.command("bench")
@_friendly_errors
def bench_cmd(
    model: Optional[str] = typer.Argument(None, help=MODEL_HELP),
    backends: str = typer.Option(
        "jiasu,onnxruntime,openvino,torch", "--backends", help="comma-separated backends (see --list-backends); each with default options"
    ),
    list_backends: bool = typer.Option(False, "--list-backends", help="list the backends, whether they are installed, and their options; then exit"),
    configs: List[str] = typer.Option(
        [], "--config", help="a configuration BACKEND:KEY=VALUE[,KEY=VALUE]; A|B sweeps a value; repeatable, added to --backends"
    ),
    batch: Optional[str] = typer.Option(None, "--batch", help="comma-separated batch sizes (default: 1,8,64; with --stream: 32)"),
    repeats: int = typer.Option(20, "--repeats", min=1, help="timed runs per (configuration, batch)"),
    min_time: float = typer.Option(
        0.5, "--min-time", min=0.0,
        help="least seconds of timed runs per (configuration, batch): fast models run more than --repeats times (0: exactly --repeats)",
    ),
    warmup: int = typer.Option(3, "--warmup", min=0, help="untimed runs before the timed ones"),
    threads: int = typer.Option(0, "--threads", min=0, help="threads for every backend (0: all usable cores)"),
    timeout: float = typer.Option(300.0, "--timeout", help="seconds allowed per (configuration, batch), compile included"),
    tolerance: float = typer.Option(1e-3, "--tolerance", help="largest relative L2 error vs ONNX Runtime before a result is a mismatch"),
    # In one process, libraries disturb each other: after jiasu, ONNX Runtime and OpenVINO had run, torch eager took
    # 134 instead of ~30 ms per image on resnet18 (2-core VM, benchmarks/RESULTS.md). Isolation costs seconds.
    isolate: bool = typer.Option(
        True, "--isolate/--no-isolate", help="run each configuration in a fresh process (a few seconds each; fair and crash-proof)"
    ),
    rounds: int = typer.Option(
        1, "--rounds", min=1,
        help="split each configuration's timed runs into this many turns, taken in rotation with the other configurations "
        "at each batch size, so a slow spell of a shared machine falls on all of them (needs --isolate); 1: one after another",
    ),
    store: Optional[Path] = typer.Option(None, "--store", help="append the run and its results to this JSONL file"),
    report: List[Path] = typer.Option([], "--report", "-o", help="also write a report (.html, .csv, .json or .md); repeatable"),
    gemm_peak: bool = typer.Option(False, "--gemm-peak", help="record this machine's measured FP32 GEMM peak (cached after the first time)"),
    seed: int = typer.Option(0, "--seed", help="seed of the generated inputs"),
    stream: bool = typer.Option(
        False, "--stream", help="end-to-end throughput: images decoded from disk by background loaders, vs compute only on the same batches"
    ),
    images: Optional[Path] = typer.Option(
        None, "--images", help="with --stream: a folder of JPEG/PNG files (default: --stream-count synthetic JPEGs in a temporary folder)"
    ),
    stream_count: int = typer.Option(512, "--stream-count", min=1, help="with --stream and no --images: how many synthetic JPEGs to write"),
    prefetch: int = typer.Option(4, "--prefetch", min=1, help="with --stream: decoded batches the loaders may hold ready"),
    loaders: int = typer.Option(2, "--loaders", min=1, help="with --stream: background loader threads that read and decode"),
    cache: bool = typer.Option(False, "--cache/--no-cache", help="with --stream: keep decoded images, so timed passes skip decoding"),
    stream_passes: int = typer.Option(2, "--stream-passes", min=1, help="with --stream: timed passes over the images per kind; the best counts"),
    as_json: bool = typer.Option(False, "--json", help="print the run and its results as JSON"),
):
    """Time a model on several backends at several batch sizes; failures are results, not crashes.

    A configuration is BACKEND or BACKEND:KEY=VALUE[,KEY=VALUE...], e.g.
    --config 'jiasu:conv_algorithm=winograd' or --config 'onnxruntime:graph_optimization_level=basic,spinning=false';
    VALUE may be A|B|C to make one configuration per value. Results print as BACKEND[KEY=VALUE,...].

    With --stream, each configuration runs on a stream of images decoded from disk (--images DIR, or synthetic
    JPEGs of the model's input size) by --loaders background threads with --prefetch batches queued, and on the
    same batches already decoded: images/s end to end and compute only, their ratio, decode ms per image, and where
    the streamed time went: waiting for the loaders, and computing (slower than alone when decoding shares the cores).
    """
    if list_backends:
        from ..backends import BACKENDS

        for name, cls in BACKENDS.items():
            reason = cls.unavailable_reason()
            console.print(f"[bold]{name}[/]: {escape(cls.description)}" + (f" [red](unavailable: {escape(reason)})[/]" if reason else ""))
            for key, d in cls.Options.describe().items():
                choices = f"; one of {', '.join(map(str, d['choices']))}" if "choices" in d else ""
                console.print(f"  {key} ({d['type']}, default {d['default']!r}{choices}): {escape(d['help'])}", highlight=False)
        return
    if model is None:
        raise JiasuError("bench needs a MODEL (an .onnx file or zoo:NAME); or --list-backends to see the backends")
    stream_options = {"--images": images is not None, "--stream-count": stream_count != 512, "--prefetch": prefetch != 4,
                      "--loaders": loaders != 2, "--cache": cache, "--stream-passes": stream_passes != 2}
    if stream:
        if rounds != 1:
            raise JiasuError("--rounds splits a sweep's timed runs into turns; --stream times whole passes, so leave --rounds out")
        sweep_only = [name for name, given in (("--store", store), ("--report", report), ("--gemm-peak", gemm_peak)) if given]
        if sweep_only:
            verb = "holds" if len(sweep_only) == 1 else "hold"
            raise JiasuError(f"{', '.join(sweep_only)} {verb} sweep results, not streaming ones; with --stream use --json to keep them")
        specs = [b for b in (s.strip() for s in backends.split(",")) if b] + list(configs)
        return _bench_stream(model, specs, batch or "32", threads, warmup, timeout, isolate, images, stream_count,
                             prefetch, loaders, cache, stream_passes, as_json)
    given = [name for name, on in stream_options.items() if on]
    if given:
        raise JiasuError(f"{', '.join(given)} only apply with --stream")
    batch = batch or "1,8,64"
    from rich.progress import Progress

    from ..bench import BenchSettings, parse_configurations, run_sweep
    from ..bench.sweep import parse_batches, stdout_to_stderr
    from ..report import FORMATS, rich_table, write_report
    from ..report.tables import runs_text

    for out in report:  # before minutes of measuring, not after
        if out.suffix.lower() not in FORMATS:
            raise JiasuError(f"--report {out}: unknown format {out.suffix or '(no suffix)'!r}; use one of {', '.join(FORMATS)}")
    specs = [b for b in (s.strip() for s in backends.split(",")) if b] + list(configs)
    configurations = parse_configurations(specs)
    batches = parse_batches(batch)
    settings = BenchSettings(
        threads=threads, repeats=repeats, min_time_s=min_time, warmup=warmup, timeout_s=timeout, tolerance=tolerance, isolate=isolate, seed=seed, rounds=rounds
    )
    # With --json the progress bar goes to stderr, and so does whatever libraries print on fd 1.
    progress_console = err_console if as_json else console
    with Progress(console=progress_console, transient=True) as progress:
        task = progress.add_task("benchmarking", total=len(configurations) * len(batches))

        def on_result(r) -> None:
            progress.update(task, advance=1, description=f"{r.configuration} batch {r.batch}: {r.status}")

        with stdout_to_stderr() if as_json else contextlib.nullcontext():
            sweep = run_sweep(model, configurations, batches, settings, store=store, gemm_peak=gemm_peak, on_result=on_result)
    if report:
        from ..bench.store import Store

        source = Store(runs={sweep.run["run_id"]: sweep.run}, results=list(sweep.results))
        write_report(source, report)
    if as_json:
        from ..bench.store import json_safe

        return _print_json(json_safe(sweep.to_dict()))
    console.print(rich_table(sweep.results, title=f"{sweep.run['model']} ({settings.resolved_threads()} threads, {runs_text(settings.to_dict())})"))
    for out in report:
        console.print(f"wrote [bold]{out}[/]")
    if store is not None:
        console.print(f"appended to [bold]{store}[/]")


def _bench_stream(model, specs, batch, threads, warmup, timeout, isolate, images, stream_count, prefetch, loaders, cache,
                  passes, as_json) -> None:
    """``jiasu bench --stream``: every configuration x batch size streamed from image files; see bench_cmd."""
    import tempfile
    from datetime import datetime, timezone

    from rich.progress import Progress

    from ..backends import get_backend
    from ..backends.base import BenchModel
    from ..bench import BenchSettings, parse_configurations
    from ..bench.environment import fingerprint
    from ..bench.store import json_safe
    from ..bench.stream import image_input, load_image_paths, stream_configuration, whole_batches, write_images
    from ..bench.sweep import parse_batches, stdout_to_stderr

    configurations = parse_configurations(specs)
    if not configurations:
        raise JiasuError("no configuration to benchmark; name backends (--backends jiasu,onnxruntime) or --config ones")
    batches = parse_batches(batch)
    settings = BenchSettings(threads=threads, warmup=warmup, timeout_s=timeout, isolate=isolate)
    settings.validate()
    if images is not None and not images.is_dir():
        raise JiasuError(f"--images {images}: no such folder; give a folder of JPEG or PNG files")
    paths = load_image_paths(images) if images is not None else None  # before loading the model: a bad folder fails fast
    if paths is None and stream_count < max(batches):
        raise JiasuError(f"--stream-count {stream_count} is fewer than one batch of {max(batches)}; raise --stream-count or lower --batch")
    bench_model = BenchModel.load(model)
    _, channels, (height, width) = image_input(bench_model)
    n_threads = settings.resolved_threads()
    with contextlib.ExitStack() as stack:
        if paths is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="jiasu-stream-")))
            paths = write_images(folder, stream_count, size=height, fmt="jpeg")
            source = (f"{len(paths)} synthetic JPEGs ({height}x{width}, Fashion-MNIST upsampled) written to the temporary folder "
                      f"{folder} (removed afterwards); give --images DIR to stream your own")
        else:
            source = f"{len(paths)} images from {images}"
        used = {b: whole_batches(paths, b, f"--images {images}") for b in batches}
        run = {
            "kind": "stream_run",
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "model": bench_model.source,
            "images": source,
            "input": {"channels": channels, "height": height, "width": width},
            "batches": batches,
            "configurations": [c.label for c in configurations],
            "settings": {"threads": n_threads, "loaders": loaders, "prefetch": prefetch, "cache": cache, "passes": passes,
                         "warmup": warmup, "timeout_s": timeout, "isolate": isolate},
            "environment": fingerprint(),
        }
        records = []
        with Progress(console=err_console if as_json else console, transient=True) as progress:
            task = progress.add_task("streaming", total=len(configurations) * len(batches))
            with stdout_to_stderr() if as_json else contextlib.nullcontext():
                for config in configurations:
                    cls = get_backend(config.backend)
                    for b in batches:
                        progress.update(task, description=f"{config.label} batch {b}: streaming")
                        records.append(stream_configuration(
                            cls, config, bench_model, used[b], b, threads=n_threads, workers=loaders, prefetch=prefetch,
                            cache=cache, passes=passes, warmup=warmup, isolate=isolate, timeout_s=timeout))
                        progress.update(task, advance=1)
    if as_json:
        return _print_json(json_safe({"run": run, "results": [r.to_dict() for r in records]}))
    console.print(f"[bold]{escape(bench_model.source)}[/] streamed: {escape(source)}", highlight=False, soft_wrap=True)
    console.print(
        f"{loaders} loader thread{'s' if loaders != 1 else ''}, prefetch {prefetch} batches, {'cache' if cache else 'no cache'}, "
        f"{n_threads} compute threads, best of {passes} passes{', each configuration in its own process' if isolate else ''}",
        highlight=False, soft_wrap=True,
    )
    for b in batches:
        if len(used[b]) < len(paths):
            console.print(f"batch {b}: the first {len(used[b])} images (whole batches)", highlight=False)
    width = max(len(r.configuration) for r in records)
    for r in records:
        head = f"  {r.configuration:<{width}}  batch {r.batch:<3} "
        if r.status != "ok":
            console.print(escape(f"{head} {r.status}: {r.error}"), highlight=False, soft_wrap=True)
            continue
        console.print(escape(
            f"{head} end to end {r.stream_images_per_s:7.1f} img/s | compute only {r.compute_images_per_s:7.1f} img/s | "
            f"ratio {r.ratio:6.1%} | decode {r.decode_ms_per_image:6.2f} ms/image | "
            f"loader wait {r.loader_wait_s:.2f} s of {r.stream_s:.2f} s ({r.loader_wait_share:.0%}), "
            f"computing {r.stream_s - r.loader_wait_s:.2f} s vs {r.compute_s:.2f} s alone"
        ), highlight=False, soft_wrap=True)


@app.command("report")
@_friendly_errors
def report_cmd(
    results: List[Path] = typer.Argument(..., help="JSONL results files written by `jiasu bench --store`"),
    output: List[Path] = typer.Option(..., "--output", "-o", help="report file: .html, .csv, .json or .md; repeatable"),
    all_results: bool = typer.Option(False, "--all", help="every result line, not only the latest per (model, configuration, batch, threads)"),
    figures: Optional[Path] = typer.Option(None, "--figures", help="also write the plots as PNG files into this directory"),
):
    """Write an HTML report (plots, table, environment) or a CSV/JSON/Markdown export from stored results."""
    from ..bench.store import load
    from ..report import save_figures, write_report

    store = load(results)
    chosen = store.results if all_results else store.latest()
    for out in write_report(store, output, results=chosen):
        console.print(f"wrote [bold]{out}[/]")
    if figures is not None:
        for path in save_figures(chosen, figures):
            console.print(f"wrote [bold]{path}[/]")


# Commands of the later stages live in their own modules (one per stage) and
# register themselves on ``app`` when imported.
from . import compile as _compile  # noqa: E402,F401
from . import optimize as _optimize  # noqa: E402,F401
from . import prune as _prune  # noqa: E402,F401
from . import quantize as _quantize  # noqa: E402,F401


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
