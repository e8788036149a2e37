"""The search space and one trial: which recipes are proposed, and how each is measured.

The space is written define-by-run (Optuna's style): the backend first, then a precision that
backend computes in, then pruning where the model has torch weights and there is training data,
then threads and the engine's own knobs. Every name a trial suggests keeps one set of choices
(``precision_onnxruntime``, not one ``precision`` whose choices change with the backend), which
Optuna's samplers require.

A trial's record is plain data (JSON-safe): the recipe, its label and key, status (``ok``,
``pruned``: accuracy so far outside the budget that timing it would waste time, ``failed``: with the
error), accuracy, drop, agreement, KL, the objective and the static costs. The search engine only
sees :func:`score`: the objective to minimize, plus a penalty for a recipe outside the accuracy budget
that ranks it behind every recipe inside it, so the sampler learns the budget's boundary.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import JiasuError
from .build import Builder
from .evaluate import Objective, Reference, predict, static_costs, time_candidate
from .recipe import BACKEND_PRECISIONS, CALIBRATIONS, Recipe

CHANNEL_RATIOS = (0.25, 0.5, 0.7)
MAGNITUDE_RATIOS = (0.5, 0.75, 0.9)
FLOAT_LAYERS = (0, 1, 2)


@dataclass
class Space:
    """What the search may choose from (fixed per run; derived from the model, the data and the options)."""

    backends: tuple[str, ...]
    precisions: tuple[str, ...]
    threads: tuple[int, ...]
    batch: int
    prune: tuple[str, ...] = ("none",)
    finetune_epochs: tuple[int, ...] = (1, 2)
    distill: tuple[bool, ...] = (False, True)
    tune: bool = True  # may the engine's per-conv tuning be tried
    train_limit: int = 0
    seed: int = 0
    teacher: str = ""  # distillation teacher of every +KD recipe ('' : the original model)
    pool_phases: tuple[bool, ...] = (False,)  # (False, True) where the model has a max pool the pass folds

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Suggest one recipe's parameters on an Optuna trial; returns the recipe's fields."""
        backend = trial.suggest_categorical("backend", list(self.backends))
        precisions = [p for p in BACKEND_PRECISIONS[backend] if p in self.precisions]
        fields: dict[str, Any] = {"backend": backend, "batch": self.batch, "seed": self.seed, "train_limit": self.train_limit}
        fields["precision"] = trial.suggest_categorical(f"precision_{backend}", precisions)
        if fields["precision"] == "int8":
            fields["calibration"] = trial.suggest_categorical("calibration", list(CALIBRATIONS))
            fields["float_layers"] = trial.suggest_categorical("float_layers", list(FLOAT_LAYERS))
        if len(self.pool_phases) > 1:
            fields["pool_phases"] = trial.suggest_categorical("pool_phases", list(self.pool_phases))
        prune = trial.suggest_categorical("prune", list(self.prune))
        fields["prune"] = prune
        if prune != "none":
            ratios = CHANNEL_RATIOS if prune == "channel" else MAGNITUDE_RATIOS
            fields["prune_ratio"] = trial.suggest_categorical(f"{prune}_ratio", list(ratios))
            fields["finetune_epochs"] = trial.suggest_categorical("finetune_epochs", list(self.finetune_epochs))
            fields["distill"] = trial.suggest_categorical("distill", list(self.distill))
            fields["teacher"] = self.teacher
        fields["threads"] = trial.suggest_categorical("threads", list(self.threads))
        if backend == "jiasu":
            if self.tune:
                fields["conv_plan"] = trial.suggest_categorical("conv_plan", ["heuristic", "tuned"])
            if self.batch > 1 and fields["threads"] > 1:
                fields["strategy"] = trial.suggest_categorical("strategy", ["", "batch"])
        return fields

    def recipe(self, fields: dict[str, Any]) -> Recipe:
        return Recipe(**fields).normalized()

    def params_of(self, recipe: Recipe) -> dict[str, Any]:
        """The Optuna parameters that propose ``recipe`` (for enqueueing starting points)."""
        params: dict[str, Any] = {"backend": recipe.backend, f"precision_{recipe.backend}": recipe.precision, "prune": recipe.prune, "threads": recipe.threads}
        if len(self.pool_phases) > 1:
            params["pool_phases"] = recipe.pool_phases
        if recipe.precision == "int8":
            params["calibration"] = recipe.calibration
            params["float_layers"] = recipe.float_layers
        if recipe.prune != "none":
            params.update({f"{recipe.prune}_ratio": recipe.prune_ratio, "finetune_epochs": recipe.finetune_epochs, "distill": recipe.distill})
        if recipe.backend == "jiasu":
            if self.tune:
                params["conv_plan"] = recipe.conv_plan
            if self.batch > 1 and recipe.threads > 1:
                params["strategy"] = recipe.strategy
        return params

    def starting_points(self) -> list[Recipe]:
        """Recipes tried first, in order: each backend as it is and in int8, then halved channels in int8.

        A short search (the embedded default runs a few dozen trials) should not spend its first
        trials on random corners; these are the points practice says to measure first.
        """
        threads = max(self.threads)
        points = []
        for backend in self.backends if "none" in self.prune else ():
            for precision in ("fp32", "int8"):
                if precision in self.precisions and precision in BACKEND_PRECISIONS[backend]:
                    points.append(Recipe(backend=backend, precision=precision, threads=threads, batch=self.batch, seed=self.seed))
        if "channel" in self.prune:
            fastest_int8 = next((b for b in ("onnxruntime", "openvino", "jiasu") if b in self.backends), self.backends[0])
            usable = [p for p in ("int8", *self.precisions) if p in self.precisions and p in BACKEND_PRECISIONS[fastest_int8]]
            precision = usable[0] if usable else "fp32"
            for ratio in (0.5, 0.25):
                points.append(
                    Recipe(
                        prune="channel", prune_ratio=ratio, finetune_epochs=max(self.finetune_epochs), distill=True in self.distill, teacher=self.teacher,
                        precision=precision, backend=fastest_int8, threads=threads, batch=self.batch, seed=self.seed, train_limit=self.train_limit,
                    )
                )
        out, seen = [], set()
        for r in points:
            r = r.normalized()
            if r.key() not in seen:
                seen.add(r.key())
                out.append(r)
        return out


@dataclass
class Evaluator:
    """Measures recipes on one source: builds (cached), accuracy per (model, backend) (cached), objective."""

    builder: Builder
    reference: Reference
    baseline_accuracy: float
    objective: Objective
    max_accuracy_drop: float
    hopeless_margin: float = 3.0
    min_time_s: float = 0.25
    eval_threads: int = 0
    _accuracy: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)

    def accuracy(self, recipe: Recipe, onnx: bytes) -> dict[str, float]:
        key = (recipe.build_key(), recipe.backend)
        if key not in self._accuracy:
            outputs = predict(onnx, recipe, self.reference.images, threads=self.eval_threads)
            self._accuracy[key] = self.reference.score(outputs)
        return self._accuracy[key]

    def run(self, recipe: Recipe) -> dict[str, Any]:
        """The trial record of ``recipe`` (never raises for a failing candidate: the record holds the error)."""
        recipe = recipe.normalized()
        start = time.perf_counter()
        record: dict[str, Any] = {"label": recipe.label, "key": recipe.key(), "recipe": recipe.to_dict(), "status": "ok", "error": None}
        phase = "build"
        try:
            built = self.builder.build(recipe)
            record.update({k: v for k, v in built.info.items() if isinstance(v, (int, float))})
            phase = "accuracy"
            record.update(self.accuracy(recipe, built.onnx))
            drop = self.baseline_accuracy - record["accuracy"]
            record["accuracy_drop"] = drop
            record["feasible"] = drop <= self.max_accuracy_drop + 1e-9
            if drop > self.max_accuracy_drop + self.hopeless_margin:
                record["status"] = "pruned"
                record["error"] = (
                    f"accuracy drop {drop:.2f} points is more than {self.hopeless_margin:g} beyond the budget of "
                    f"{self.max_accuracy_drop:g}: not timed"
                )
            else:
                phase = "costs"
                record.update(static_costs(built))
                if self.objective.timed:
                    phase = "timing"
                    record.update(time_candidate(built.onnx, recipe, self.reference.images, self.min_time_s))
                record["objective"] = record[self.objective.name]
        except KeyboardInterrupt:
            raise
        except Exception as e:  # a failing candidate is a result, not the end of the search
            record["status"] = "failed"
            text = str(e).strip() or type(e).__name__
            record["error"] = f"{phase} failed: {text}" if isinstance(e, JiasuError) else f"{phase} failed: {type(e).__name__}: {text}"
            record["traceback"] = traceback.format_exc(limit=6)
        record["duration_s"] = time.perf_counter() - start
        return record


def score(record: dict[str, Any], objective: Objective) -> Optional[float]:
    """What the search minimizes for ``record`` (None when it has no objective: failed or pruned)."""
    if record.get("status") != "ok" or record.get("objective") is None:
        return None
    value = objective.score(float(record["objective"]))
    if record.get("feasible"):
        return value
    # Behind every feasible recipe (no objective of a model reaches 1e12: not ms, bytes, µJ or images/s),
    # ordered by how far outside the budget the recipe is, so the sampler still sees a slope toward the boundary.
    return 1e12 * (1 + max(0.0, float(record.get("accuracy_drop", 0.0))))
