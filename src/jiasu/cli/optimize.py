"""`jiasu optimize` and `jiasu apply` (registered on the shared app); the work is :mod:`jiasu.recommend`.

With no arguments, ``jiasu optimize`` runs the built-in example: smallcnn trained on Fashion-MNIST
(shipped in the package) on the bundled 3,000-image Fashion-MNIST subset, for latency at batch 1,
within 1 accuracy point, in a few minutes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Optional

import typer

from ..errors import JiasuError
from . import _friendly_errors, _print_json, app, console

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?\s*$")


def parse_duration(text: str) -> float:
    """Seconds in ``"90"``, ``"90s"``, ``"20m"`` or ``"1.5h"``."""
    m = _DURATION.match(text)
    if not m:
        raise JiasuError(f"cannot read {text!r} as a duration; write e.g. 300, 300s, 20m or 1h")
    value = float(m.group(1))
    unit = m.group(2) or "s"
    return value * {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}[unit]


def _split(values: Optional[List[str]]) -> Optional[list[str]]:
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


@app.command("optimize")
@_friendly_errors
def optimize_cmd(
    model: str = typer.Argument("zoo:smallcnn?weights=fashion-mnist", help="zoo:NAME[?...] or a jiasu-saved .pt (torch weights: pruning possible) or an .onnx file"),
    data: str = typer.Option("fashion-mnist-subset", "--data", help="validation (and retraining/calibration) data: fashion-mnist, fashion-mnist-subset, a folder or .npy/.npz"),
    scenario: str = typer.Option("latency", "--scenario", help="latency | throughput | memory | energy"),
    max_accuracy_drop: float = typer.Option(1.0, "--max-accuracy-drop", help="accuracy points the chosen model may lose against the original"),
    backends: Optional[List[str]] = typer.Option(None, "--backends", help="engines to consider (comma-separated): jiasu, onnxruntime, openvino; default: those installed"),
    precisions: Optional[List[str]] = typer.Option(None, "--precisions", help="precisions to consider: fp32, fp16, bf16, int8, int8-dynamic; default: all"),
    prune: Optional[List[str]] = typer.Option(None, "--prune", help="pruning methods to consider: none, channel, magnitude; default: all when the model has torch weights"),
    batch: int = typer.Option(0, "--batch", min=0, help="batch size of the scenario (0: 1 for latency, 64 for throughput)"),
    threads: Optional[List[str]] = typer.Option(None, "--threads", help="thread counts to consider (comma-separated); default: 1..cores"),
    trials: int = typer.Option(30, "--trials", min=1, help="trials of the search (a resumed study counts the ones it has)"),
    time_budget: str = typer.Option("8m", "--time-budget", help="bound on the whole run, e.g. 300s, 20m, 1h"),
    finetune_epochs: Optional[List[str]] = typer.Option(None, "--finetune-epochs", help="retraining epochs to consider after pruning (comma-separated); default 1,2"),
    train_limit: int = typer.Option(0, "--train-limit", min=0, help="retrain on the first N training images (0: all)"),
    teacher: str = typer.Option("", "--teacher", help="teacher of distilled retraining: zoo:NAME[?...] or a jiasu-saved .pt with the same classes (default: the original model)"),
    val_limit: int = typer.Option(1000, "--val-limit", min=1, help="validation images (the first N of the validation split)"),
    no_tune: bool = typer.Option(False, "--no-tune", help="never try the engine's per-conv autotuning"),
    min_time: float = typer.Option(0.25, "--min-time", min=0.001, help="seconds of timed runs per measurement (the count of runs follows)"),
    final_rounds: int = typer.Option(3, "--final-rounds", min=1, help="interleaved timing rounds of the final comparison (the best round counts)"),
    seed: int = typer.Option(0, "--seed", help="seed of the sampler, retraining and calibration"),
    resume: bool = typer.Option(True, "--resume/--restart", help="continue the study in OUTDIR if there is one (--restart: start afresh)"),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="run the trials on a Ray cluster: local (start one here), auto, or HOST:PORT"),
    workers: int = typer.Option(2, "--workers", min=1, help="concurrent trials with --ray-address"),
    output: Path = typer.Option(Path("jiasu-optimize"), "-o", "--output", help="output directory (model, recipe, report, study)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
):
    """Find the fastest (or smallest, or least energy) recipe for MODEL within an accuracy budget."""
    from ..recommend import optimize

    threads_list = [int(t) for t in _split(threads)] if threads else None
    epochs = tuple(int(e) for e in _split(finetune_epochs)) if finetune_epochs else (1, 2)
    log = (lambda text: None) if as_json else (lambda text: console.print(text, highlight=False))
    result = optimize(
        model, data, output_dir=output, scenario=scenario, max_accuracy_drop=max_accuracy_drop,
        backends=_split(backends), precisions=_split(precisions), prune=_split(prune), batch=batch, threads=threads_list,
        trials=trials, time_budget_s=parse_duration(time_budget), finetune_epochs=epochs, train_limit=train_limit, teacher=teacher,
        val_limit=val_limit, tune=not no_tune, min_time_s=min_time, final_rounds=final_rounds, seed=seed, resume=resume, ray_address=ray_address,
        workers=workers, progress=not as_json, log=log,
    )
    if as_json:
        return _print_json(result.data)
    _print_summary(result)


def _print_summary(result) -> None:
    from rich.table import Table

    data = result.data
    objective = data["objective"]
    table = Table(title=f"final comparison ({objective['label']}, one run)")
    for column in ("entry", "kind", "accuracy %", objective["label"], "ms / image"):
        table.add_column(column, justify="left" if column in ("entry", "kind") else "right")
    for row in data["final"]:
        mark = "[bold green]* [/]" if row["kind"] == "candidate" and row.get("trial") == data["chosen"] else ""
        acc = f"{row['accuracy']:.2f}" if row.get("accuracy") is not None else "-"
        obj = f"{row['objective']:.4g}" if row.get("objective") is not None else (row.get("error") or "-")[:60]
        ms = f"{row['per_image_ms']:.4g}" if row.get("per_image_ms") is not None else "-"
        table.add_row(mark + row["label"], row["kind"], acc, obj, ms)
    console.print(table)
    for reason in data["reasons"]:
        console.print(f"- {reason}", highlight=False)
    if not result.met_budget:
        console.print("[bold red]no candidate met the accuracy budget: nothing recommended[/] (see the report for the closest)")
    for name, path in result.files.items():
        console.print(f"wrote {name}: [bold]{path}[/]")


@app.command("apply")
@_friendly_errors
def apply_cmd(
    recipe: Path = typer.Argument(..., help="a recipe.yaml written by jiasu optimize"),
    model: Optional[str] = typer.Argument(None, help="the model to apply it to (default: the one the recipe names)"),
    data: Optional[str] = typer.Option(None, "--data", help="retraining/calibration data (default: the recipe's)"),
    output: Path = typer.Option(Path("jiasu-apply"), "-o", "--output", help="output directory"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
):
    """Rebuild the model a recipe describes (bit for bit, checked by sha256)."""
    from ..recommend import apply_recipe

    log = (lambda text: None) if as_json else (lambda text: console.print(text, highlight=False))
    info = apply_recipe(recipe, model, data, output, log=log)
    if as_json:
        return _print_json(info)
    for name, path in info["files"].items():
        console.print(f"wrote {name}: [bold]{path}[/]")
    if info["matches"] is True:
        console.print(f"sha256 {info['sha256']}: the same bytes as the model jiasu optimize chose")
    elif info["matches"] is False:
        console.print(
            f"[bold yellow]warning:[/] sha256 {info['sha256']} differs from the recipe's {info['expected_sha256']}: "
            "another model, data, or library version gives other bytes"
        )
