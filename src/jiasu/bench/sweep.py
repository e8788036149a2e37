"""A sweep: configurations x batch sizes on one model, with one environment record.

:func:`run_sweep` loads the model once, computes the reference outputs once per
batch size (ONNX Runtime on the seeded feeds every configuration gets), then
measures each configuration at each batch size in turn (see
:mod:`jiasu.bench.harness`); with ``settings.rounds`` > 1, batch size by batch
size, the configurations take turns at their timed runs
(:func:`jiasu.bench.harness.bench_in_turns`). Results stream to the store and to ``on_result``
as they arrive.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence, Union

from ..backends import get_backend
from ..backends.base import BenchModel
from ..errors import JiasuError
from . import store as store_mod
from .config import Configuration
from .environment import fingerprint
from .harness import BenchSettings, bench_configuration, bench_in_turns, reference_outputs
from .result import BenchResult


@dataclass
class SweepRun:
    """The sweep's header record (settings, environment...) and its results in measurement order."""

    run: dict[str, Any]
    results: list[BenchResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "results": [r.to_dict() for r in self.results]}


def parse_batches(text: Union[str, Sequence[int]]) -> list[int]:
    """``"1,2,4"`` (or a list) -> ``[1, 2, 4]``: positive, unique, in the order given."""
    items = [s.strip() for s in text.split(",")] if isinstance(text, str) else list(text)
    batches: list[int] = []
    for item in items:
        try:
            value = int(item)
        except (TypeError, ValueError):
            raise JiasuError(f"batch sizes must be positive integers separated by commas (1,8,64), got {item!r}") from None
        if value < 1:
            raise JiasuError(f"batch sizes must be >= 1, got {value}")
        if value not in batches:
            batches.append(value)
    if not batches:
        raise JiasuError("no batch size given; write --batch 1,8,64")
    return batches


def run_sweep(
    model: Union[str, BenchModel],
    configurations: Sequence[Configuration],
    batches: Union[str, Sequence[int]],
    settings: BenchSettings = BenchSettings(),
    *,
    store: Optional[Union[str, Path]] = None,
    gemm_peak: bool = False,
    on_start: Optional[Callable[[Configuration], None]] = None,
    on_result: Optional[Callable[[BenchResult], None]] = None,
    clock: Callable[[], float] = time.perf_counter,
) -> SweepRun:
    """Measure every configuration at every batch size; see the module docstring."""
    settings.validate()
    batches = parse_batches(batches)
    if not configurations:
        raise JiasuError("no configuration to benchmark; name backends (--backends jiasu,onnxruntime) or --config ones")
    classes = {c.backend: get_backend(c.backend) for c in configurations}
    bench_model = model if isinstance(model, BenchModel) else BenchModel.load(model)
    threads = settings.resolved_threads()
    started = datetime.now(timezone.utc)
    environment = fingerprint()
    if gemm_peak:
        from ..analysis.roofline import machine

        roof = machine(threads)  # measured once per machine and thread count, then read from the cache
        environment["gemm_peak"] = {
            "gflops": round(roof.fp32_flops / 1e9, 1),
            "threads": roof.threads,
            "measured_at": roof.measured_at,
            "via": "jiasu.analysis.roofline.machine (torch.matmul, float32)",
        }
    run = {
        "kind": "run",
        "run_id": f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}",
        "started_at": started.isoformat(timespec="seconds"),
        "model": bench_model.source,
        "batches": batches,
        "configurations": [c.label for c in configurations],
        "settings": {**settings.to_dict(), "threads": threads},
        "reference": "onnxruntime (CPU, all graph optimizations) on the same seeded inputs",
        "environment": environment,
    }
    references: dict[int, Any] = {}
    for batch in batches:
        try:
            references[batch] = reference_outputs(bench_model, batch, settings.seed, threads)
        except Exception as e:  # no reference: results carry no error figure, and the run record says why
            run.setdefault("reference_errors", {})[str(batch)] = f"{type(e).__name__}: {e}"
    if store is not None:
        store_mod.append(store, [run])
    sweep = SweepRun(run)

    def emit(result: BenchResult) -> None:
        result.run_id = run["run_id"]
        sweep.results.append(result)
        if store is not None:
            store_mod.append(store, [result])
        if on_result is not None:
            on_result(result)

    if settings.rounds > 1:  # configurations take turns, batch size by batch size: they all start together
        for config in configurations:
            if on_start is not None:
                on_start(config)
        for batch in batches:
            bench_in_turns(classes, configurations, bench_model, batch, settings, references.get(batch), emit)
    else:
        for config in configurations:
            if on_start is not None:
                on_start(config)
            bench_configuration(classes[config.backend], config, bench_model, batches, settings, references, emit, clock)
    run["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if store is not None:
        store_mod.append(store, [run])  # the header again, now with finished_at; readers keep the last one
    return sweep


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what libraries write to file descriptor 1 (C++ logs, worker processes) to stderr meanwhile.

    For ``--json``: stdout then carries the JSON document and nothing else.
    """
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real fd 1 (embedded interpreters): nothing to protect
        yield
        return
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
