"""One measurement of one configuration at one batch size, as a value: failures included.

A configuration that fails, times out, crashes its worker or is not installed
still yields a :class:`BenchResult`, with ``status`` and ``error`` saying what
happened, so one bad configuration never ends a sweep. ``to_dict`` is the JSONL
record (``kind: "result"``); ``from_dict`` ignores keys it does not know.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

# ok: timed, and the outputs matched the reference within the tolerance.
# mismatch: timed, but the outputs did not match (the time is of wrong results).
# failed: an exception in compile, the first run or a timed run. timeout: ran past timeout_s.
# crashed: the isolated worker process died. unavailable: the backend's package is not installed.
STATUSES = ("ok", "mismatch", "failed", "timeout", "crashed", "unavailable")
TIMED = ("ok", "mismatch")


@dataclass
class RunRecord:
    """What every record of one configuration run at one batch size says first: what ran, and whether it worked.

    Subclasses add their figures and may narrow ``STATUSES``; ``from_dict``
    ignores keys the class does not know, so old and new stores read alike.
    """

    STATUSES: ClassVar[tuple[str, ...]] = STATUSES

    model: str
    configuration: str
    backend: str
    batch: int
    status: str = "ok"
    error: Optional[str] = None
    options: dict[str, Any] = field(default_factory=dict)
    threads: Optional[int] = None

    def __post_init__(self) -> None:
        if self.status not in self.STATUSES:
            raise ValueError(f"status must be one of {', '.join(self.STATUSES)}, got {self.status!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class BenchResult(RunRecord):
    """Times in milliseconds per call (one call runs one batch); memory in MB (10^6 bytes)."""

    repeats: int = 0
    warmup: int = 0
    time_ms: Optional[dict[str, float]] = None
    per_image_ms: Optional[float] = None
    throughput_per_s: Optional[float] = None
    samples_ms: Optional[list[float]] = None
    compile_s: Optional[float] = None
    first_run_s: Optional[float] = None
    rel_l2: Optional[float] = None
    tolerance: Optional[float] = None
    peak_rss_mb: Optional[float] = None
    baseline_rss_mb: Optional[float] = None
    memory_scope: Optional[str] = None
    details: dict[str, Any] = field(default_factory=dict)
    isolated: bool = False
    run_id: Optional[str] = None
    started_at: Optional[str] = None

    @property
    def timed(self) -> bool:
        """Whether the result carries timings (ok or mismatch)."""
        return self.status in TIMED and self.time_ms is not None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "result", **dataclasses.asdict(self)}
