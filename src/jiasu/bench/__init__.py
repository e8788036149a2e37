"""Benchmarking: timing statistics (and, later, backends sweeps and reports)."""

from .timing import Timing, measure, summarize

__all__ = ["Timing", "measure", "summarize"]
