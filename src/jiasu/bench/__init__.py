"""Benchmarking: timing statistics, the per-configuration harness, sweeps and their JSONL store.

>>> from jiasu.bench import BenchSettings, parse_configurations, run_sweep
>>> run = run_sweep("zoo:smallcnn", parse_configurations(["jiasu", "onnxruntime"]), [1, 8], BenchSettings(repeats=20))
>>> [(r.configuration, r.batch, r.per_image_ms) for r in run.results]
"""

from .config import Configuration, parse_configuration, parse_configurations
from .harness import BenchSettings, bench_configuration
from .result import BenchResult
from .sweep import SweepRun, run_sweep
from .timing import MeasureTimeout, Timing, measure, summarize

__all__ = [
    "BenchResult",
    "BenchSettings",
    "Configuration",
    "MeasureTimeout",
    "SweepRun",
    "Timing",
    "bench_configuration",
    "measure",
    "parse_configuration",
    "parse_configurations",
    "run_sweep",
    "summarize",
]
