"""Measure one configuration at a list of batch sizes: compile, check, warm up, time.

For each batch size (:func:`bench_one`):

1. ``compile`` the backend for the model at this batch (timed: ``compile_s``);
2. run it once on seeded example feeds (timed: ``first_run_s``, which holds lazy
   work such as torch.compile's code generation) and compare the outputs with
   the reference (ONNX Runtime on the same feeds): the largest relative L2
   error over the outputs is recorded, and above ``tolerance`` the result is a
   ``mismatch``;
3. ``warmup`` untimed runs, then ``repeats`` timed runs, and more until they add
   up to ``min_time_s`` (at most :data:`MAX_RUNS`; the result's ``repeats`` is how
   many ran): ``time_ms`` per call, ``per_image_ms`` = median / batch,
   ``throughput_per_s`` = batch / median;
4. ``close``. Peak RSS is taken over steps 1-3 (see :mod:`jiasu.bench.memory`).

Compile and first-run time never enter the per-image time. Every failure
becomes a :class:`BenchResult` with its error; nothing here raises for a
backend's sake. With ``isolate`` each configuration runs in a fresh process
(multiprocessing spawn), so a crash or a hang costs one result, not the sweep:
the worker is killed after ``timeout_s`` without a result, and the remaining
batch sizes continue in a new worker.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import queue as queue_mod
import signal
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from ..backends.base import Backend, BenchModel
from ..errors import JiasuError
from ..runtime.options import knob
from ..runtime.reference import relative_l2
from .config import Configuration
from .environment import usable_cores
from .memory import PeakRSS
from .result import BenchResult
from .timing import MeasureTimeout, measure, measure_warmup, summarize

Reference = Optional[Mapping[str, np.ndarray]]
Emit = Callable[[BenchResult], None]


@dataclass(frozen=True)
class BenchSettings:
    """How every configuration of a sweep is measured (the same for all of them)."""

    threads: int = knob(0, "threads given to every backend (0: all cores this process may use)")
    repeats: int = knob(20, "timed runs per (configuration, batch)")
    min_time_s: float = knob(
        0.5,
        "least seconds of timed runs per (configuration, batch): a fast model runs more than repeats times (up to "
        "MAX_RUNS), so its median rests on more than a few milliseconds of a noisy machine; 0: exactly repeats",
    )
    warmup: int = knob(3, "untimed runs before the timed ones (after the first, checked run)")
    timeout_s: float = knob(
        300.0,
        "limit for one (configuration, batch), compile included; hard with isolate (the worker is killed), "
        "otherwise checked between runs",
    )
    tolerance: float = knob(1e-3, "largest relative L2 error vs the reference before a result is a mismatch")
    isolate: bool = knob(False, "run each configuration in its own process (spawn): crashes and hangs stay contained")
    seed: int = knob(0, "seed of the generated example inputs")
    rounds: int = knob(
        1,
        "split each configuration's timed runs into this many turns, taken in rotation with the other configurations at "
        "each batch size (needs isolate), so a slow spell of a shared machine falls on all of them; 1: one after another",
    )

    def validate(self) -> None:
        if self.repeats < 1:
            raise JiasuError(f"repeats must be >= 1, got {self.repeats}")
        if not self.min_time_s >= 0:
            raise JiasuError(f"min_time_s must be >= 0 seconds (0: exactly repeats runs), got {self.min_time_s}")
        if self.warmup < 0:
            raise JiasuError(f"warmup must be >= 0, got {self.warmup}")
        if self.threads < 0:
            raise JiasuError(f"threads must be >= 0 (0: all cores), got {self.threads}")
        if not self.timeout_s > 0:
            raise JiasuError(f"timeout must be > 0 seconds, got {self.timeout_s}")
        if not self.tolerance > 0:
            raise JiasuError(f"tolerance must be > 0, got {self.tolerance}")
        if not 1 <= self.rounds <= self.repeats:
            raise JiasuError(f"rounds must be between 1 and repeats ({self.repeats}): each round times at least one run, got {self.rounds}")
        if self.rounds > 1 and not self.isolate:
            raise JiasuError(
                "rounds > 1 needs isolate: configurations take turns each in its own process (in one process the "
                "libraries disturb each other's timings); turn isolation on (jiasu bench --isolate)"
            )

    def resolved_threads(self) -> int:
        return self.threads or usable_cores()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: The most timed runs of one (configuration, batch) that ``min_time_s`` may ask for (a 20 us model: 0.04 s).
MAX_RUNS = 2000


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _error_text(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _result(config: Configuration, model: BenchModel, batch: int, settings: BenchSettings, threads: int, isolated: bool, **fields) -> BenchResult:
    """A result for one (configuration, batch), its settings filled in; ``fields`` sets the rest (status, error...)."""
    return BenchResult(
        model=model.source,
        configuration=config.label,
        backend=config.backend,
        batch=batch,
        threads=threads,
        repeats=settings.repeats,
        warmup=settings.warmup,
        tolerance=settings.tolerance,
        isolated=isolated,
        started_at=_now(),
        **fields,
    )


def example_feeds_for(model: BenchModel, batch: int, seed: int) -> dict[str, np.ndarray]:
    from ..frontends.inputs import example_feeds

    return example_feeds(model.ir, batch=batch, seed=seed)


def reference_outputs(model: BenchModel, batch: int, seed: int, threads: int) -> dict[str, np.ndarray]:
    """What every backend must reproduce: ONNX Runtime on the same seeded feeds."""
    from ..runtime.reference import run_onnxruntime

    return run_onnxruntime(model.onnx, example_feeds_for(model, batch, seed), threads=threads)


def compare(outputs: Mapping[str, Any], reference: Mapping[str, np.ndarray]) -> tuple[float, Optional[str]]:
    """Largest relative L2 error over the reference's outputs, and a message when an output is missing or misshapen."""
    worst = 0.0
    for name, expected in reference.items():
        if name not in outputs:
            return float("inf"), f"output {name!r} missing; the backend returned {', '.join(outputs) or 'nothing'}"
        actual = np.asarray(outputs[name])
        if actual.shape != expected.shape:
            return float("inf"), f"output {name!r} has shape {actual.shape}, the reference {expected.shape}"
        err = relative_l2(actual, expected)
        if np.isnan(err):
            return err, f"output {name!r} holds NaN"
        worst = max(worst, err)
    return worst, None


class _Measurement:
    """One configuration at one batch size, in three steps: :meth:`prepare` (compile, check, warm up),
    :meth:`time` (some timed runs; called once, or once per round when configurations take turns) and
    :meth:`finish` (statistics over every timed run, details, close). A failure in any step is recorded
    in the result, and the steps after it do nothing: nothing here raises for a backend's sake."""

    def __init__(self, backend_cls, config, model, batch, settings, reference, threads, clock=time.perf_counter):
        self.backend_cls, self.config, self.model, self.batch = backend_cls, config, model, batch
        self.settings, self.reference, self.clock = settings, reference, clock
        self.result = _result(config, model, batch, settings, threads, settings.isolate)
        self.backend: Optional[Backend] = None
        self.samples: list[float] = []
        self.failed = False
        self.memory: Optional[PeakRSS] = None  # entered by prepare once the backend is known to be available
        self.feeds: dict[str, np.ndarray] = {}
        self.deadline = 0.0

    def _fail(self, status: str, error: str) -> None:
        self.result.status, self.result.error, self.failed = status, error, True

    def prepare(self) -> bool:
        """Steps 1-2 of the module docstring and the warm-up runs; False when it failed (the result says why)."""
        result, settings = self.result, self.settings
        reason = self.backend_cls.unavailable_reason()
        if reason:
            self._fail("unavailable", reason)
            return False
        self.memory = PeakRSS().__enter__()
        phase = "options"
        try:
            options = self.config.resolve(result.threads, self.backend_cls)
            result.options = options.to_dict()
            start = self.clock()
            self.deadline = start + settings.timeout_s
            phase = "example inputs"
            bench_model = self.model.with_batch(self.batch)
            self.feeds = example_feeds_for(bench_model, self.batch, settings.seed)
            phase = "compile"
            self.backend = self.backend_cls()
            self.backend.compile(bench_model, options)
            result.compile_s = self.clock() - start
            phase = "first run"
            start = self.clock()
            outputs = self.backend.run(self.feeds)
            result.first_run_s = self.clock() - start
            if self.reference is not None:
                result.rel_l2, problem = compare(outputs, self.reference)
                if problem or not result.rel_l2 <= settings.tolerance:
                    result.status = "mismatch"
                    result.error = problem or (
                        f"outputs differ from the reference (ONNX Runtime): relative L2 error {result.rel_l2:.3g} "
                        f"> tolerance {settings.tolerance:g}"
                    )
            phase = "warm-up runs"
            measure_warmup(lambda: self.backend.run(self.feeds), settings.warmup, clock=self.clock, deadline=self.deadline)
        except MeasureTimeout as e:
            self._timeout(e)
        except Exception as e:  # any backend failure is a result; KeyboardInterrupt still stops the sweep
            self._fail("failed", f"{phase} failed: {_error_text(e)}")
        return not self.failed

    def _timeout(self, e: MeasureTimeout) -> None:
        self._fail("timeout", f"{e} (limit {self.settings.timeout_s:g} s for compile, check, warm-up and {self.settings.repeats} runs)")

    def time(self, runs: int, rewarm: int = 0) -> None:
        """``rewarm`` untimed runs, then ``runs`` timed ones and more until they make this call's share of
        ``min_time_s`` (``runs / repeats`` of it, and of :data:`MAX_RUNS`), added to the samples (step 3)."""
        if self.failed or runs < 1:
            return
        share = runs / self.settings.repeats
        try:
            measure(lambda: self.backend.run(self.feeds), runs, rewarm, clock=self.clock, deadline=self.deadline, samples=self.samples,
                    min_s=self.settings.min_time_s * share, max_calls=max(runs, MAX_RUNS * runs // self.settings.repeats))
        except MeasureTimeout as e:
            self._timeout(e)
        except Exception as e:
            self._fail("failed", f"timed runs failed: {_error_text(e)}")

    def finish(self) -> BenchResult:
        """Statistics over every timed run, the backend's details, ``close`` (step 4); the result."""
        result = self.result
        if self.samples and not self.failed:
            timing = summarize(self.samples)
            result.time_ms = {k: v * 1e3 for k, v in timing.to_dict().items() if k != "repeats"}
            result.per_image_ms = timing.per_item(self.batch) * 1e3
            result.throughput_per_s = timing.throughput(self.batch)
            result.samples_ms = [s * 1e3 for s in self.samples]
            result.repeats = len(self.samples)
        if self.backend is not None:
            try:
                result.details = self.backend.details()
            except Exception as e:  # details are best effort; a half-built backend may have none
                result.details = {"details_error": _error_text(e)}
            try:
                self.backend.close()
            except Exception as e:
                result.details["close_error"] = _error_text(e)
            self.backend = None
        if self.memory is not None:
            self.memory.__exit__(None, None, None)
            result.peak_rss_mb, result.baseline_rss_mb, result.memory_scope = self.memory.peak_mb, self.memory.baseline_mb, self.memory.scope
        return result


def bench_one(
    backend_cls: type[Backend],
    config: Configuration,
    model: BenchModel,
    batch: int,
    settings: BenchSettings,
    reference: Reference,
    threads: int,
    clock: Callable[[], float] = time.perf_counter,
) -> BenchResult:
    """One configuration at one batch size (steps 1-4 of the module docstring), as a result, never an exception."""
    m = _Measurement(backend_cls, config, model, batch, settings, reference, threads, clock)
    if m.prepare():
        m.time(settings.repeats)
    return m.finish()


def bench_configuration(
    backend_cls: type[Backend],
    config: Configuration,
    model: BenchModel,
    batches: Sequence[int],
    settings: BenchSettings,
    references: Mapping[int, Reference],
    emit: Emit,
    clock: Callable[[], float] = time.perf_counter,
) -> None:
    """All batch sizes of one configuration, in this process or (``settings.isolate``) in a worker; each result goes to ``emit``."""
    threads = settings.resolved_threads()
    if settings.isolate and backend_cls.unavailable_reason() is None:
        _bench_isolated(backend_cls, config, model, batches, settings, references, threads, emit)
        return
    for batch in batches:
        emit(bench_one(backend_cls, config, model, batch, settings, references.get(batch), threads, clock))


# ---- process isolation ---------------------------------------------------------------


def _worker(backend_cls, config, model, batches, settings, references, threads, out) -> None:
    for batch in batches:
        out.put(bench_one(backend_cls, config, model, batch, settings, references.get(batch), threads).to_dict())
    out.put(None)


def _exit_text(code: Optional[int]) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class WorkerLost(Exception):
    """An isolated worker process died (``status`` "crashed") or ran past its deadline ("timeout", and was killed)."""

    def __init__(self, status: str, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def receive(proc, out, deadline: float, timeout_s: float, doing: str, about: str = "") -> Any:
    """The next message a spawned worker ``proc`` puts on ``out``, waiting until ``deadline`` (``time.monotonic()``).

    Raises :class:`WorkerLost` when the worker dies without one ("the worker
    process died (exit code 1) while {doing}") or the deadline passes ("no result
    within {timeout_s} s{about}; the worker process was killed"): the caller turns
    that into a result, and the sweep goes on.
    """
    while True:
        try:
            return out.get(timeout=0.2)
        except queue_mod.Empty:
            if not proc.is_alive():
                try:  # a message may still be in the pipe
                    return out.get(timeout=1.0)
                except queue_mod.Empty:
                    raise WorkerLost("crashed", f"the worker process died ({_exit_text(proc.exitcode)}) while {doing}") from None
            if time.monotonic() > deadline:
                proc.kill()
                raise WorkerLost("timeout", f"no result within {timeout_s:g} s{about}; the worker process was killed") from None


def _bench_isolated(backend_cls, config, model, batches, settings, references, threads, emit) -> None:
    ctx = multiprocessing.get_context("spawn")
    pending = list(batches)
    while pending:
        out = ctx.Queue()
        proc = ctx.Process(
            target=_worker,
            args=(backend_cls, config, model, pending, settings, {b: references.get(b) for b in pending}, threads, out),
            name=f"jiasu-bench {config.label}",
            daemon=True,
        )
        proc.start()
        # The first batch's limit also covers starting the worker (importing torch: seconds).
        deadline = time.monotonic() + settings.timeout_s
        lost: Optional[WorkerLost] = None
        while pending:
            try:
                message = receive(proc, out, deadline, settings.timeout_s, f"running batch {pending[0]}", f" for batch {pending[0]}")
            except WorkerLost as e:
                lost = e
                break
            if message is None:
                break
            result = BenchResult.from_dict(message)
            pending.remove(result.batch)
            emit(result)
            deadline = time.monotonic() + settings.timeout_s
        proc.join(timeout=10)
        out.close()
        if lost:
            batch = pending.pop(0)
            emit(_result(config, model, batch, settings, threads, True, status=lost.status, error=lost.reason))


# ---- configurations taking turns ------------------------------------------------------

#: Pause before each turn, so the threads of the worker that ran last (ONNX Runtime's pool spins after a
#: run) are idle before the next one starts timing.
SETTLE_S = 0.05


def round_sizes(repeats: int, rounds: int) -> list[int]:
    """``repeats`` timed runs split into ``rounds`` turns as evenly as can be: 20 in 3 -> [7, 7, 6]."""
    return [repeats // rounds + (1 if i < repeats % rounds else 0) for i in range(rounds)]


def _turn_worker(backend_cls, config, model, batch, settings, reference, threads, commands, out) -> None:
    m = _Measurement(backend_cls, config, model, batch, settings, reference, threads)
    out.put(("ready", m.prepare()))
    while True:
        idle = time.perf_counter()
        runs = commands.get()
        m.deadline += time.perf_counter() - idle  # the limit counts this configuration's own time, not its wait
        if runs is None:
            break
        m.time(runs, rewarm=1)
        out.put(("timed", not m.failed))
    out.put(("result", m.finish().to_dict()))


@dataclass
class _Turns:
    """One configuration's worker in :func:`bench_in_turns`."""

    config: Configuration
    proc: Any
    commands: Any
    out: Any
    budget_s: float  # what is left of settings.timeout_s for this configuration


def bench_in_turns(
    classes: Mapping[str, type[Backend]],
    configs: Sequence[Configuration],
    model: BenchModel,
    batch: int,
    settings: BenchSettings,
    reference: Reference,
    emit: Emit,
) -> None:
    """Every configuration at one batch size, each in its own worker process, taking turns.

    The workers compile, check and warm up one after another; then the timed runs go in
    ``settings.rounds`` rounds (:func:`round_sizes`), each round one turn per configuration,
    the first turn rotating from round to round. A turn is :data:`SETTLE_S` of pause, one
    untimed run (the caches are the last worker's), and that round's timed runs. A slow
    spell of a shared machine (these 2-core VMs swing 1.3-2x for minutes) then falls on
    every configuration alike, and their ratio holds. A failure, crash or hang costs that
    configuration's result only. Results go to ``emit`` in the order of ``configs``.
    """
    threads = settings.resolved_threads()
    ctx = multiprocessing.get_context("spawn")
    results: dict[str, BenchResult] = {}
    running: list[_Turns] = []

    def step(w: _Turns, doing: str) -> Optional[tuple]:
        """The worker's next message, its time taken from its budget; None (and its result) when it is lost."""
        start = time.monotonic()
        try:
            message = receive(w.proc, w.out, start + w.budget_s, settings.timeout_s, doing, f" for batch {batch}")
        except WorkerLost as e:
            results[w.config.label] = _result(w.config, model, batch, settings, threads, True, status=e.status, error=e.reason)
            return None
        w.budget_s -= time.monotonic() - start
        return message

    def finish(w: _Turns) -> None:
        w.commands.put(None)
        message = step(w, f"finishing batch {batch}")
        if message is not None:
            results[w.config.label] = BenchResult.from_dict(message[1])
        w.proc.join(timeout=10)

    for config in configs:
        cls = classes[config.backend]
        if cls.unavailable_reason() is not None:
            results[config.label] = bench_one(cls, config, model, batch, settings, reference, threads)
            continue
        commands, out = ctx.Queue(), ctx.Queue()
        proc = ctx.Process(
            target=_turn_worker,
            args=(cls, config, model, batch, settings, reference, threads, commands, out),
            name=f"jiasu-bench {config.label}",
            daemon=True,
        )
        proc.start()
        w = _Turns(config, proc, commands, out, settings.timeout_s)
        message = step(w, f"preparing batch {batch}")
        if message is None:
            continue
        if message[1]:
            running.append(w)
        else:
            finish(w)  # failed before timing: its result says why
    for r, runs in enumerate(round_sizes(settings.repeats, settings.rounds)):
        if not running:
            break
        first = r % len(running)
        for w in running[first:] + running[:first]:
            time.sleep(SETTLE_S)
            w.commands.put(runs)
            message = step(w, f"timing batch {batch}")
            if message is None:
                running.remove(w)
            elif not message[1]:
                running.remove(w)
                finish(w)
    for w in running:
        finish(w)
    for config in configs:
        emit(results[config.label])

