"""Wall-clock timing of a callable: warm-up, repeats, robust statistics."""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable


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


def measure(fn: Callable[[], object], repeats: int = 10, warmup: int = 2, clock: Callable[[], float] = time.perf_counter) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed."""
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = clock()
        fn()
        samples.append(clock() - start)
    return summarize(samples)
