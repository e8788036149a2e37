"""Wall-clock timing of a callable: warm-up, repeats, robust statistics."""

from __future__ import annotations

import random
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable, Mapping, Optional


@dataclass(frozen=True)
class Timing:
    """Seconds per call over ``repeats`` timed calls (after ``warmup`` untimed ones)."""

    median: float
    p10: float
    p90: float
    min: float
    mean: float
    repeats: int

    def per_item(self, batch: int) -> float:
        return self.median / batch

    def throughput(self, batch: int) -> float:
        """Items per second at the median time."""
        return batch / self.median

    def to_dict(self) -> dict:
        return asdict(self)


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100]) of already sorted values."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    pos = (len(sorted_values) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize(samples: list[float]) -> Timing:
    s = sorted(samples)
    return Timing(
        median=statistics.median(s), p10=percentile(s, 10), p90=percentile(s, 90), min=s[0], mean=statistics.fmean(s), repeats=len(s)
    )


class MeasureTimeout(TimeoutError):
    """``measure`` ran past its deadline; ``samples`` holds the timed calls that finished."""

    def __init__(self, message: str, samples: list[float]):
        super().__init__(message)
        self.samples = samples


def measure_warmup(fn: Callable[[], object], calls: int, clock: Callable[[], float] = time.perf_counter, deadline: Optional[float] = None) -> None:
    """Call ``fn`` ``calls`` times untimed, checking ``deadline`` (a ``clock()`` value) after each (see :func:`measure`)."""
    for i in range(calls):
        fn()
        if deadline is not None and clock() > deadline:
            raise MeasureTimeout(f"ran past its deadline after {i + 1} of {calls} warm-up calls", [])


def measure(
    fn: Callable[[], object],
    repeats: int = 10,
    warmup: int = 2,
    clock: Callable[[], float] = time.perf_counter,
    deadline: Optional[float] = None,
    samples: Optional[list[float]] = None,
    min_s: float = 0.0,
    max_calls: int = 0,
) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed, then on while this
    measurement's timed calls add up to less than ``min_s`` seconds: at most ``max_calls``
    timed calls in all (when above ``repeats``; 0: no cap but ``deadline``).

    ``deadline`` (a ``clock()`` value) is checked after every call: past it during
    the ``repeats`` calls, :class:`MeasureTimeout` is raised; past it after them,
    the timing just ends. A call in progress is never interrupted. Pass a list as
    ``samples`` to receive the raw per-call seconds; the statistics cover all of it.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    samples = [] if samples is None else samples
    limit = repeats if min_s <= 0 else max(repeats, max_calls) if max_calls else sys.maxsize

    def check(done: str) -> None:
        if deadline is not None and clock() > deadline:
            raise MeasureTimeout(f"ran past its deadline after {done}", samples)

    measure_warmup(fn, warmup, clock, deadline)
    timed = 0.0
    for i in range(limit):
        start = clock()
        fn()
        took = clock() - start
        samples.append(took)
        timed += took
        if i + 1 >= repeats:
            # the runs asked for are done: time only adds samples now, and a deadline ends it without failing
            if timed >= min_s or (deadline is not None and clock() > deadline):
                break
        else:
            check(f"{i + 1} of {repeats} timed calls")
    return summarize(samples)


def interleaved(
    fns: Mapping[str, Callable[[], object]],
    rounds: int = 5,
    block_s: float = 0.05,
    settle_s: float = 0.01,
    seed: int = 0,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Seconds per call of every ``fns[name]()``: one sample per round, the rounds interleaved.

    Each round visits every callable once, in an order shuffled per round
    (``seed``). A visit first calls it untimed until ``settle_s`` has passed (at
    least once; not at all when ``settle_s`` is 0), then times calls until
    ``block_s`` has passed (at least one) and records their mean.

    Why the settling: on this machine libgomp's idle threads spin for
    milliseconds after a parallel region, and each calling thread has its own
    team, so the first call after another callable that ran on other threads
    (a thread pool, another strategy) shares the cores with that spinning and
    is slower by up to 25% on a 1 ms call. Timing single calls round-robin in a
    fixed cycle charged that to whoever always came next. Interleaving the
    rounds still spreads drift in the machine's load over every callable.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    order = list(fns)
    shuffle = random.Random(seed).shuffle
    samples: dict[str, list[float]] = {name: [] for name in order}
    for _ in range(rounds):
        shuffle(order)
        for name in order:
            fn = fns[name]
            if settle_s > 0:
                start = clock()
                fn()
                while clock() - start < settle_s:
                    fn()
            calls, start = 0, clock()
            while True:
                fn()
                calls += 1
                elapsed = clock() - start
                if elapsed >= block_s:
                    break
            samples[name].append(elapsed / calls)
    return samples
