"""The search on a Ray cluster: Ray Tune runs trials on the workers, Optuna proposes them.

The sampler is the same Optuna TPE over the same define-by-run space, and Ray Tune's ``OptunaSearch``
writes to the same SQLite study as the local path: a study started on one machine can be resumed on
a cluster and the other way round. Each worker builds and measures its candidates with its own
:class:`~.search.Evaluator` (rebuilt from the driver's, once per worker process); built models are
shared through the output directory's cache, so the cluster needs a shared filesystem for it (a
local cluster has one). The driver writes every finished record to ``trials.jsonl``.

Timing on workers that share a machine disturbs one another: the search's timings rank candidates
roughly, and the final comparison (on the driver, alone) decides.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from ..errors import JiasuError
from .search import Evaluator, Space, score


def _suggest(space: Space, trial) -> None:
    space.suggest(trial)


def _define_by_run(space: Space):
    # A partial of a module-level function, not a closure: Tune pickles its searcher when it checkpoints.
    return functools.partial(_suggest, space)


def _fields_from_config(space: Space, config: dict[str, Any]) -> dict[str, Any]:
    """Recipe fields from the flat parameter dict Tune hands the trainable."""

    class Replay:  # answers the space's questions from the config, so the space is written once
        def suggest_categorical(self, name, choices):
            return config[name]

    return space.suggest(Replay())


def run_ray(address: str, storage: str, name: str, space: Space, evaluator: Evaluator, trial_log, trials: int, budget_s: float, workers: int, log) -> None:
    """Run up to ``trials`` more trials of study ``name`` with ``workers`` concurrent Ray Tune trials."""
    try:
        import optuna
        import ray
        from ray import tune
        from ray.tune.search.optuna import OptunaSearch
    except ImportError as e:
        raise JiasuError(f"--ray-address needs Ray Tune ({e.name} is missing): pip install 'jiasu[ray]'") from None

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage_obj = optuna.storages.RDBStorage(storage)
    existing = optuna.load_study(study_name=name, storage=storage_obj) if name in optuna.get_all_study_names(storage_obj) else None
    done = len([t for t in existing.trials if t.state.is_finished()]) if existing else 0
    remaining = trials - done
    if remaining <= 0:
        log(f"study {name} already has {done} of the {trials} trials asked for; raise --trials to search more")
        return
    if budget_s <= 0:
        log("no time left for the search within the time budget (the final comparison's share is kept); raise --time-budget")
        return
    started_here = not ray.is_initialized()
    if started_here:
        if address == "local":
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
        else:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
    points = [space.params_of(r) for r in space.starting_points()] if done == 0 else None
    searcher = OptunaSearch(
        space=_define_by_run(space),
        metric="score",
        mode="min",
        points_to_evaluate=points,
        sampler=optuna.samplers.TPESampler(seed=space.seed, n_startup_trials=8),
        study_name=name,
        storage=storage_obj,
    )
    # The trainable is pickled to every worker: it must capture the small things only (the evaluator,
    # with its model and data, travels once through the object store).
    evaluator_ref = ray.put(evaluator)
    objective = evaluator.objective
    known = dict(trial_log.records)

    def trainable(config: dict[str, Any]) -> dict[str, Any]:
        fields = _fields_from_config(space, config)
        recipe = space.recipe(fields)
        previous = known.get(recipe.key())
        record = dict(previous) if previous is not None else _worker_evaluator(evaluator_ref).run(recipe)
        value = score(record, objective)
        # Tune needs a number for every trial; failed and pruned ones rank last (Optuna sees the same value).
        return {"score": value if value is not None else 1e15, "record": record}

    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": 1}),
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=remaining, max_concurrent_trials=workers, time_budget_s=budget_s),
        run_config=tune.RunConfig(name=name, storage_path=str(_tune_dir(storage)), verbose=0),
    )
    start = time.perf_counter()
    try:
        results = tuner.fit()
    finally:
        if started_here:
            ray.shutdown()
    number = done
    for r in results:
        record = (r.metrics or {}).get("record")
        if record is None:
            record = {"label": "(lost)", "key": f"ray-error-{number}", "recipe": {}, "status": "failed", "error": str(r.error)}
        record.update(number=number, study=name, worker_trial=r.path.rsplit("/", 1)[-1] if r.path else None)
        if trial_log.add(record):  # a recipe measured before keeps its first record
            number += 1
    log(f"ray: {number - done} trials in {time.perf_counter() - start:.0f} s on {address}")


_WORKER_EVALUATORS: dict[Any, Evaluator] = {}


def _worker_evaluator(ref) -> Evaluator:
    """The evaluator of this worker process (fetched once; its build and accuracy caches then persist)."""
    import ray

    key = ref.hex() if hasattr(ref, "hex") else id(ref)
    if key not in _WORKER_EVALUATORS:
        _WORKER_EVALUATORS[key] = ray.get(ref)
    return _WORKER_EVALUATORS[key]


def _tune_dir(storage: str):
    from pathlib import Path

    return Path(storage.removeprefix("sqlite:///")).parent / "ray"
