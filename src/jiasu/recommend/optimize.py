"""``jiasu optimize``: from a trained model to the best recipe for a scenario, under an accuracy budget.

Steps (each visible in the output directory):

1. **Reference.** The original model's accuracy on the validation images (top-1 with labels, else
   the candidates' agreement with it), and its outputs for the KL comparison.
2. **Search.** Optuna (TPE, seeded) proposes recipes (:class:`.search.Space`); each is built,
   checked for accuracy on the backend that would serve it, and, unless hopeless, timed. Trials land
   in an SQLite study (``study.db``) and in ``trials.jsonl`` as they finish, so an interrupted run
   resumes where it stopped (``resume=True``); a recipe measured before is not measured again. With
   ``ray_address`` the same study is run by Ray Tune workers (:mod:`.distributed`).
3. **Final comparison.** The best candidates inside the budget, the original and every peer
   engine's default are re-measured in one run (:func:`.peers.measure_final`).
4. **Choice.** The best candidate inside the budget by the final numbers. None inside the budget:
   nothing is recommended, and the report shows the closest candidate.
5. **Output.** ``model.onnx`` (+ ``model.plan.json`` for our engine), ``recipe.yaml`` (rebuilds
   it with ``jiasu apply``, checked by sha256), ``result.json`` and ``report.html``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from ..errors import JiasuError
from .build import Builder, Source, foldable_pools, load_source, sha256
from .evaluate import Reference, get_scenario
from .peers import measure_final, peer_entries
from .recipe import PRECISIONS, Recipe, without_later_defaults, write_recipe
from .search import Evaluator, Space, score

DEFAULT_MODEL = "zoo:smallcnn?weights=fashion-mnist"
DEFAULT_DATA = "fashion-mnist-subset"
SEARCH_BACKENDS = ("jiasu", "onnxruntime", "openvino")


@dataclass
class OptimizeResult:
    """What :func:`optimize` found; ``data`` is the JSON written to ``result.json``."""

    data: dict[str, Any]
    output_dir: Path
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def met_budget(self) -> bool:
        return bool(self.data["met_budget"])

    @property
    def chosen(self) -> Optional[dict[str, Any]]:
        return _trial(self.data, self.data.get("chosen"))


def _trial(data: dict, number: Optional[int]) -> Optional[dict]:
    return next((t for t in data["trials"] if t["number"] == number), None) if number is not None else None


def available(backend: str) -> bool:
    from ..backends import get_backend

    return get_backend(backend).unavailable_reason() is None


_LATER_SPACE = {"teacher": "", "pool_phases": (False,)}


def study_name(source: Source, data: str, validation_images: int, scenario: str, budget: float, space: Space) -> str:
    """The study of one question: another model, data, validation set, scenario, budget or space is another study."""
    # A knob added later joins the key only when it differs from what the space was before it, so a study
    # started before it still resumes.
    items = sorted(without_later_defaults(space.__dict__, _LATER_SPACE).items())
    key = json.dumps([source.digest, data, validation_images, scenario, budget, items], default=str)
    return f"jiasu-{scenario}-{sha256(key.encode())[:12]}"


def pareto_front(records: Sequence[dict[str, Any]], objective) -> list[int]:
    """Numbers of the ok records not dominated in (accuracy up, objective better), best objective first."""
    ok = [r for r in records if r.get("status") == "ok" and r.get("objective") is not None]
    ok.sort(key=lambda r: (objective.score(r["objective"]), -r["accuracy"]))
    front, best_acc = [], -float("inf")
    for r in ok:
        if r["accuracy"] > best_acc:
            front.append(r["number"])
            best_acc = r["accuracy"]
    return front


class TrialLog:
    """``trials.jsonl``: every finished trial's record, appended as it finishes (the resumable store's readable half).

    One file may hold several studies (another question asked in the same directory); a log reads
    the records of its own study only, since a record's numbers hold for its model, data and scenario.
    """

    def __init__(self, path: Path, study: str):
        self.path = path
        self.records: dict[str, dict[str, Any]] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a line cut by an interruption
                    if record.get("study") == study:
                        self.records[record["key"]] = record

    def add(self, record: dict[str, Any]) -> bool:
        """Append ``record``; False (and nothing written) when its recipe was measured before."""
        if record["key"] in self.records:
            return False
        self.records[record["key"]] = record
        with self.path.open("a") as f:
            f.write(json.dumps(record, default=str) + "\n")
        return True

    def ordered(self) -> list[dict[str, Any]]:
        return sorted(self.records.values(), key=lambda r: r["number"])


def optimize(
    model: str = DEFAULT_MODEL,
    data: Optional[str] = DEFAULT_DATA,
    *,
    output_dir: str | os.PathLike = "jiasu-optimize",
    scenario: str = "latency",
    max_accuracy_drop: float = 1.0,
    backends: Optional[Sequence[str]] = None,
    precisions: Optional[Sequence[str]] = None,
    batch: int = 0,
    threads: Optional[Sequence[int]] = None,
    trials: int = 40,
    time_budget_s: float = 600.0,
    prune: Optional[Sequence[str]] = None,
    finetune_epochs: Sequence[int] = (1, 2),
    train_limit: int = 0,
    teacher: str = "",
    val_limit: int = 1000,
    tune: bool = True,
    min_time_s: float = 0.25,
    final_candidates: int = 4,
    final_rounds: int = 3,
    seed: int = 0,
    resume: bool = True,
    ray_address: Optional[str] = None,
    workers: int = 2,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> OptimizeResult:
    """Search recipes for ``model`` on ``data`` (see the module docstring); writes ``output_dir``.

    ``batch`` 0 takes the scenario's default (1 for latency, 64 for throughput). ``backends``,
    ``precisions``, ``threads`` and ``prune`` narrow the space (defaults: what is installed, every
    precision, 1..cores, every pruning method when the model has torch weights and data has
    labels). ``time_budget_s`` bounds the whole run: the search stops starting trials when the time
    left is what the final comparison needs; that comparison times ``final_candidates`` candidates
    and the peers in ``final_rounds`` interleaved rounds. ``resume`` continues the study in
    ``output_dir`` if one is there. ``teacher`` (a zoo spec or jiasu-saved .pt predicting the same
    classes) replaces the original model as the teacher of distilled retraining.
    """
    started = time.perf_counter()
    objective = get_scenario(scenario)
    batch = batch or objective.default_batch
    if max_accuracy_drop < 0:
        raise JiasuError(f"--max-accuracy-drop must be >= 0 points, got {max_accuracy_drop}")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)

    from ..bench.environment import fingerprint, usable_cores

    cores = usable_cores()
    source = load_source(model)
    train, val = _data(source, data, val_limit)
    backends = tuple(backends) if backends else tuple(b for b in SEARCH_BACKENDS if available(b))
    for b in backends:
        if b not in SEARCH_BACKENDS:
            raise JiasuError(f"unknown backend {b!r} for the search; choose from: {', '.join(SEARCH_BACKENDS)}")
        if not available(b):
            from ..backends import get_backend

            raise JiasuError(f"backend {b!r} is not available: {get_backend(b).unavailable_reason()}")
    precisions = tuple(precisions) if precisions else PRECISIONS
    bad = [p for p in precisions if p not in PRECISIONS]
    if bad:
        raise JiasuError(f"unknown precision {bad[0]!r}; choose from: {', '.join(PRECISIONS)}")
    labelled = train is not None and bool((train.labels >= 0).all())
    if prune is None:
        prune = ("none", "channel", "magnitude") if source.trainable and labelled else ("none",)
    elif any(p != "none" for p in prune) and not (source.trainable and labelled):
        why = "the model is ONNX only (give zoo:NAME or a jiasu-saved .pt)" if not source.trainable else "the data has no labels to retrain on"
        raise JiasuError(f"pruning needs retraining, and {why}; drop the pruning methods or change the input")
    if teacher:
        if not any(p != "none" for p in prune):
            raise JiasuError("--teacher is the teacher of retraining after pruning, and no pruning method is searched; add --prune channel or magnitude")
        Builder(source).teacher_for(teacher)  # fail now, not in a trial
    space = Space(
        backends=backends,
        precisions=precisions,
        threads=tuple(threads) if threads else tuple(range(1, cores + 1)),
        batch=batch,
        prune=tuple(prune),
        finetune_epochs=tuple(finetune_epochs),
        tune=tune,
        train_limit=train_limit,
        seed=seed,
        teacher=teacher,
        # Offered only where the pass has a pool to fold; elsewhere it would build the same model twice.
        pool_phases=(False, True) if foldable_pools(source.onnx) else (False,),
    )

    log(f"reference: the original model on {len(val)} validation images ...")
    images = val.images.numpy()
    labels = val.labels.numpy() if labelled else None
    reference = Reference.make(source.onnx, images, labels)
    baseline_accuracy = reference.score(reference.probs)["accuracy"]
    calib = train if train is not None else val
    builder = Builder(source, train, calib, cache_dir=out / "cache", progress=False)
    evaluator = Evaluator(builder, reference, baseline_accuracy, objective, max_accuracy_drop, min_time_s=min_time_s)

    name = study_name(source, str(data), len(val), scenario, max_accuracy_drop, space)
    if not resume:
        for stale in (out / "study.db", out / "trials.jsonl"):
            stale.unlink(missing_ok=True)
    trial_log = TrialLog(out / "trials.jsonl", name)
    storage = f"sqlite:///{(out / 'study.db').resolve()}"
    final_reserve = _final_reserve(len(backends), final_candidates, batch)
    search_budget = max(0.0, time_budget_s - (time.perf_counter() - started) - final_reserve)
    log(
        f"search: {scenario} at batch {batch}, accuracy budget {max_accuracy_drop:g} points below "
        f"{baseline_accuracy:.2f}% ({reference.metric}); up to {trials} trials in {search_budget:.0f} s; study {name} in {storage}"
    )
    if ray_address:
        from .distributed import run_ray

        run_ray(ray_address, storage, name, space, evaluator, trial_log, trials, search_budget, workers, log)
        search = f"ray-tune+optuna-tpe ({ray_address}, {workers} concurrent trials)"
    else:
        _run_local(storage, name, space, evaluator, trial_log, trials, search_budget, progress, log)
        search = "optuna-tpe"
    records = trial_log.ordered()

    # ---- final comparison --------------------------------------------------------------------
    feasible = sorted((r for r in records if r["status"] == "ok" and r.get("feasible")), key=lambda r: objective.score(r["objective"]))
    entries = []
    for r in feasible[:final_candidates]:
        recipe = Recipe.from_dict(r["recipe"])
        built = builder.build(recipe)
        entries.append({"label": r["label"], "kind": "candidate", "trial": r["number"], "recipe": recipe, "onnx": built.onnx, "float_onnx": built.float_onnx, "accuracy": r["accuracy"], "agreement": r["agreement"], "kl": r["kl"]})
    peer_threads = max(space.threads)
    entries += peer_entries(source.onnx, calib.images[:256].numpy(), peer_threads, batch, available)
    log(f"final comparison: {len(entries)} entries, interleaved timing rounds ...")
    final = measure_final(entries, reference, source.onnx, objective, rounds=final_rounds, min_time_s=min_time_s)

    chosen_row = None
    for row in final:
        if row["kind"] == "candidate" and row["status"] == "ok" and row.get("objective") is not None:
            if chosen_row is None or objective.score(row["objective"]) < objective.score(chosen_row["objective"]):
                chosen_row = row
    measured = [r for r in records if r.get("accuracy_drop") is not None]
    closest = None if chosen_row else min(measured, key=lambda r: r["accuracy_drop"], default=None)
    result = {
        "format": "jiasu-optimize",
        "version": 1,
        "model": model,
        "data": str(data),
        "scenario": scenario,
        "objective": objective.describe(batch),
        "batch": batch,
        "accuracy_metric": reference.metric,
        "validation_images": len(images),
        "max_accuracy_drop": max_accuracy_drop,
        "baseline": {"accuracy": baseline_accuracy, "label": "the original model (accuracy: FP32 on onnxruntime; objective: on jiasu with its defaults)"},
        "trials": [{k: v for k, v in r.items() if k != "traceback"} for r in records],
        "pareto": pareto_front(records, objective),
        "final": final,
        "chosen": chosen_row["trial"] if chosen_row else None,
        "closest": closest["number"] if closest else None,
        "met_budget": chosen_row is not None,
        "space": {k: list(v) if isinstance(v, tuple) else v for k, v in space.__dict__.items()},
        "study": storage,
        "study_name": name,
        "search": search,
        "environment": fingerprint(),
    }
    original = next((row for row in final if row["kind"] == "original" and row.get("objective") is not None), None)
    if original:
        result["baseline"]["objective"] = original["objective"]
    result["reasons"] = reasons(result, objective)
    files = _write_outputs(result, out, source, builder, chosen_row, data, log)
    result["elapsed_s"] = time.perf_counter() - started
    (out / "result.json").write_text(json.dumps(result, indent=1, default=str))
    files["result"] = out / "result.json"
    files["report"] = _write_report(result, out)
    return OptimizeResult(result, out, files)


def _final_reserve(backends: int, candidates: int, batch: int) -> float:
    """Seconds kept for the final comparison: a few per entry (more for large batches)."""
    entries = candidates + 2 * backends
    return entries * (4.0 + 0.05 * batch)


def _data(source: Source, data: Optional[str], val_limit: int):
    from ..data import train_and_validation

    if data is None:
        raise JiasuError("optimize needs validation data (--data): accuracy is measured on it, never assumed")
    train, val = train_and_validation(data, source.input_shape)
    if val_limit and len(val) > val_limit:
        val = val.take(val_limit)
    return train, val


def _run_local(storage: str, name: str, space: Space, evaluator: Evaluator, trial_log: TrialLog, trials: int, budget_s: float, progress: bool, log) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=space.seed, n_startup_trials=8)
    study = optuna.create_study(study_name=name, storage=storage, sampler=sampler, direction="minimize", load_if_exists=True)
    done = [t for t in study.trials if t.state.is_finished()]
    if not done:
        for recipe in space.starting_points()[:trials]:
            study.enqueue_trial(space.params_of(recipe), skip_if_exists=True)
    elif len(done) < len(study.trials):
        log(f"resuming study {name}: {len(done)} trials finished before; {len(study.trials) - len(done)} left running by an interrupted run are not counted")
    remaining = trials - len(done)
    if remaining <= 0:
        log(f"study {name} already has {len(done)} of the {trials} trials asked for; raise --trials to search more")
        return
    if budget_s <= 0:
        log("no time left for the search within the time budget (the final comparison's share is kept); raise --time-budget")
        return
    deadline = time.perf_counter() + budget_s
    bar = _Progress(remaining, progress, evaluator.objective)

    def objective(trial) -> float:
        fields = space.suggest(trial)
        record = _evaluate(fields, space, evaluator, trial_log, name, trial.number)
        trial.set_user_attr("label", record["label"])
        trial.set_user_attr("status", record["status"])
        bar.advance(record)
        value = score(record, evaluator.objective)
        if record["status"] == "pruned":
            raise optuna.TrialPruned(record["error"])
        if value is None:
            raise CandidateFailed(record["error"])
        return value

    def stop_at_deadline(study, trial) -> None:
        if time.perf_counter() > deadline:
            study.stop()

    try:
        study.optimize(objective, n_trials=remaining, timeout=budget_s, catch=(CandidateFailed,), callbacks=[stop_at_deadline])
    finally:
        bar.close()


class CandidateFailed(Exception):
    """A recipe that failed to build or run (its record holds the error); the study goes on."""


def _evaluate(fields: dict, space: Space, evaluator: Evaluator, trial_log: TrialLog, name: str, number: int) -> dict:
    """The record of the recipe ``fields`` (measured now, or the one a finished trial left in the log)."""
    recipe = space.recipe(fields)
    previous = trial_log.records.get(recipe.key())
    if previous is not None:
        record = dict(previous)
        record["repeat_of"] = previous["number"]
    else:
        record = evaluator.run(recipe)
    record.update(number=number, study=name)
    if previous is None:
        trial_log.add(record)
    return record


class _Progress:
    """A rich progress bar over trials: the best objective inside the budget so far, and the last trial."""

    def __init__(self, total: int, enabled: bool, objective):
        self.objective = objective
        self.best: Optional[float] = None
        self.progress = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(TextColumn("[bold]search[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.description}"), transient=False)
            self.task = self.progress.add_task("", total=total)
            self.progress.start()

    def advance(self, record: dict) -> None:
        if record.get("feasible") and record.get("objective") is not None:
            if self.best is None or self.objective.score(record["objective"]) < self.objective.score(self.best):
                self.best = record["objective"]
        if self.progress is None:
            return
        best = f"best {self.best:.4g} {self.objective.unit}" if self.best is not None else "none inside the budget yet"
        self.progress.update(self.task, advance=1, description=f"{best} | last: {record['status']}: {record['label']}"[:100])

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


# ---- explanation ---------------------------------------------------------------------------------


def _fmt(value: float, objective) -> str:
    return f"{value:.4g} {objective.unit}"


def reasons(result: dict, objective) -> list[str]:
    """Why the choice: the budget, the winner against the original and the peers, and what each knob did."""
    out = []
    trials = result["trials"]
    ok = [t for t in trials if t["status"] == "ok"]
    feasible = [t for t in ok if t.get("feasible")]
    floor = result["baseline"]["accuracy"] - result["max_accuracy_drop"]
    out.append(
        f"Accuracy budget: at least {floor:.2f}% {result['accuracy_metric']} (the original's {result['baseline']['accuracy']:.2f}% "
        f"minus {result['max_accuracy_drop']:g} points) on {result['validation_images']} validation images; "
        f"{len(feasible)} of {len(trials)} trials met it ({sum(t['status'] == 'pruned' for t in trials)} were too far outside it to time, "
        f"{sum(t['status'] == 'failed' for t in trials)} failed)."
    )
    final = result["final"]
    chosen = next((r for r in final if r["kind"] == "candidate" and r.get("trial") == result["chosen"]), None)
    if chosen is None:
        closest = _trial(result, result.get("closest"))
        text = "No candidate met the accuracy budget, so nothing is recommended."
        if closest is not None and closest.get("accuracy") is not None:
            text += f" The closest was {closest['label']} at {closest['accuracy']:.2f}% ({closest['accuracy_drop']:.2f} points below the original)."
        out.append(text)
        return out
    peers = [r for r in final if r["kind"] == "peer-default" and r.get("objective") is not None]
    original = next((r for r in final if r["kind"] == "original" and r.get("objective") is not None), None)

    def versus(reference: dict) -> str:
        r = reference["objective"] / chosen["objective"] if objective.direction == "minimize" else chosen["objective"] / reference["objective"]
        return f"{r:.2f}x better than" if r >= 1 else f"{1 / r:.2f}x worse than"

    text = f"Chosen: {chosen['label']}, {_fmt(chosen['objective'], objective)} at {chosen['accuracy']:.2f}% (re-measured in the final comparison)"
    if original:
        text += f"; {versus(original)} the original on jiasu ({_fmt(original['objective'], objective)})"
    if peers:
        best_peer = min(peers, key=lambda r: objective.score(r["objective"]))
        text += f"; {versus(best_peer)} the best peer default, {best_peer['label']} ({_fmt(best_peer['objective'], objective)})"
    out.append(text + ".")
    others = [r for r in final if r["kind"] == "candidate" and r is not chosen and r.get("objective") is not None]
    if others:
        out.append("Runners-up in the same run: " + "; ".join(f"{r['label']} {_fmt(r['objective'], objective)}" for r in others) + ".")
    for knob in ("backend", "precision", "prune", "threads"):
        best: dict[Any, dict] = {}
        for t in feasible:
            value = t["recipe"][knob]
            if value not in best or objective.score(t["objective"]) < objective.score(best[value]["objective"]):
                best[value] = t
        if len(best) > 1:
            parts = sorted(best.items(), key=lambda kv: objective.score(kv[1]["objective"]))
            out.append(f"Best within the budget by {knob}: " + ", ".join(f"{v}: {_fmt(t['objective'], objective)}" for v, t in parts) + ".")
    over = [t for t in ok if not t.get("feasible")]
    if over:
        fastest_over = min(over, key=lambda t: objective.score(t["objective"]))
        if not feasible or objective.score(fastest_over["objective"]) < objective.score(min(feasible, key=lambda t: objective.score(t["objective"]))["objective"]):
            out.append(
                f"Faster but outside the budget: {fastest_over['label']} ({_fmt(fastest_over['objective'], objective)}, "
                f"{fastest_over['accuracy_drop']:.2f} points lost)."
            )
    return out


# ---- output files ---------------------------------------------------------------------------------


def _write_outputs(result: dict, out: Path, source: Source, builder: Builder, chosen_row: Optional[dict], data, log) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for stale in ("model.onnx", "model.plan.json", "recipe.yaml"):
        (out / stale).unlink(missing_ok=True)  # a resumed run must not leave an old choice next to a new report
    chosen = _trial(result, result["chosen"]) if chosen_row else None
    if chosen is not None:
        recipe = Recipe.from_dict(chosen["recipe"])
        built = builder.build(recipe)
        files["model"] = out / "model.onnx"
        files["model"].write_bytes(built.onnx)
        if recipe.backend == "jiasu":
            files["plan"] = _write_plan(built.onnx, recipe, out / "model.plan.json")
        expected = {k: chosen_row.get(k) for k in ("accuracy", "objective", "per_image_ms")}
        files["recipe"] = write_recipe(
            out / "recipe.yaml", recipe, result["model"],
            {"data": str(data), "scenario": result["scenario"], "expected": dict(expected, sha256=built.sha256, onnx_bytes=len(built.onnx))},
        )
        result["chosen_sha256"] = built.sha256
        result["per_layer"] = per_layer(built.onnx, recipe)
    else:
        result["per_layer"] = []
        closest = _trial(result, result.get("closest"))
        if closest is not None:
            files["closest_recipe"] = write_recipe(out / "closest-recipe.yaml", Recipe.from_dict(closest["recipe"]), result["model"], {"data": str(data), "note": "outside the accuracy budget: not recommended"})
    return files


def _write_plan(onnx: bytes, recipe: Recipe, path: Path) -> Path:
    from ..frontends import load_onnx
    from ..plan import compile_model

    strategy = recipe.strategy or None
    compiled = compile_model(load_onnx(onnx, check=False), batch=recipe.batch, threads=recipe.threads, tune_algorithms=recipe.conv_plan == "tuned", strategy=strategy, workers=recipe.threads)
    return compiled.plan.save(path)


def per_layer(onnx: bytes, recipe: Recipe, repeats: int = 10) -> list[dict[str, Any]]:
    """Per node of the chosen model on our engine (after passes): op, algorithm, time and share of the total.

    Other backends do not expose per-node times the same way; our engine runs the same graph, so its
    profile shows where the time of this model goes.
    """
    try:
        from .. import Engine
        from ..frontends import copy_model, load_onnx
        from ..frontends.inputs import example_feeds
        from ..passes import optimize as run_passes

        model = load_onnx(onnx, check=False)
        optimized, _ = run_passes(copy_model(model), None)
        engine = Engine(optimized, threads=recipe.threads)
        rows = engine.node_times(example_feeds(optimized, batch=recipe.batch), repeats=repeats)
    except Exception as e:  # the table is an aid; a model our engine cannot run still gets its report
        return [{"name": "(per-layer times unavailable)", "op": "", "algorithm": "", "ms": None, "share": None, "error": f"{type(e).__name__}: {e}"}]
    total = sum(r["ms"] for r in rows) or 1.0
    return [{"name": r["node"], "op": r["op"], "algorithm": r["algorithm"], "ms": r["ms"], "share": 100 * r["ms"] / total} for r in rows]


def _write_report(result: dict, out: Path) -> Path:
    from ..report.optimize import render_optimize_html

    recipe_path = out / "recipe.yaml"
    html = render_optimize_html(result, recipe_path.read_text() if recipe_path.exists() else None)
    path = out / "report.html"
    path.write_text(html)
    return path


# ---- jiasu apply -----------------------------------------------------------------------------------


def apply_recipe(recipe_path: str | os.PathLike, model: Optional[str] = None, data: Optional[str] = None, output_dir: str | os.PathLike = "jiasu-apply", log: Callable[[str], None] = print) -> dict[str, Any]:
    """Rebuild the model ``recipe_path`` describes from ``model`` (default: the one it names) into ``output_dir``.

    Returns the sha256 of the written ``model.onnx``, the one the recipe expects, and whether they match.
    """
    from ..data import train_and_validation
    from .recipe import read_recipe

    recipe, doc = read_recipe(recipe_path)
    model = model or doc.get("model")
    if not model:
        raise JiasuError(f"{recipe_path} names no model; give MODEL")
    data = data or doc.get("data")
    source = load_source(model)
    train = None
    if recipe.trains or recipe.precision == "int8":
        if not data:
            raise JiasuError("this recipe retrains or calibrates, which needs the data it was made with; give --data")
        train, _ = train_and_validation(data, source.input_shape)
    builder = Builder(source, train, train)
    log(f"building {recipe.label} from {model} ...")
    built = builder.build(recipe)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model.onnx").write_bytes(built.onnx)
    files = {"model": str(out / "model.onnx")}
    if recipe.backend == "jiasu":
        files["plan"] = str(_write_plan(built.onnx, recipe, out / "model.plan.json"))
    expected = (doc.get("expected") or {}).get("sha256")
    return {"recipe": recipe.label, "model": model, "files": files, "sha256": built.sha256, "expected_sha256": expected, "matches": expected == built.sha256 if expected else None}

