"""Peak resident memory (RSS high-water mark) of this process, around one measurement.

On Linux the kernel's high-water mark (``VmHWM``) is reset before each
measurement by writing ``5`` to ``/proc/self/clear_refs``, so the peak covers
that measurement alone (scope ``"batch"``). Where that is not possible the
peak is the process lifetime's (``getrusage``; scope ``"process"``): only
comparable across configurations when each runs in its own process
(``--isolate``). Either way the number includes the interpreter, torch and
every library loaded, so compare differences, not absolute values.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path
from typing import Optional

_STATUS = Path("/proc/self/status")
_MEMINFO = Path("/proc/meminfo")


def _kb(path: Path, field: str) -> Optional[int]:
    """``field``'s value in kB from a /proc file of ``Name: value kB`` lines; None where there is none."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _status_kb(field: str) -> Optional[int]:
    return _kb(_STATUS, field)


def meminfo_kb(field: str) -> Optional[int]:
    """A field of the machine's /proc/meminfo (``MemTotal``, ``MemAvailable``), kB; None where it is missing."""
    return _kb(_MEMINFO, field)


def rss_mb() -> Optional[float]:
    """Current resident set size, MB; None where /proc is missing."""
    kb = _status_kb("VmRSS")
    return None if kb is None else kb * 1024 / 1e6


def available_mb() -> Optional[float]:
    """Memory new work can have without swapping (the kernel's MemAvailable), MB; None where /proc is missing."""
    kb = meminfo_kb("MemAvailable")
    return None if kb is None else kb * 1024 / 1e6


def reset_peak() -> bool:
    """Reset the kernel's RSS high-water mark to the current RSS; False where not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_mb() -> float:
    """The RSS high-water mark, MB (since the last successful ``reset_peak``, else since process start)."""
    kb = _status_kb("VmHWM")
    if kb is not None:
        return kb * 1024 / 1e6
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / 1e6 if sys.platform == "darwin" else maxrss * 1024 / 1e6  # bytes on macOS, KiB elsewhere


class PeakRSS:
    """``with PeakRSS() as m: ...`` then ``m.baseline_mb``, ``m.peak_mb``, ``m.scope``."""

    def __enter__(self) -> "PeakRSS":
        self.scope = "batch" if reset_peak() else "process"
        self.baseline_mb = rss_mb()
        self.peak_mb: Optional[float] = None
        return self

    def __exit__(self, *exc) -> None:
        self.peak_mb = peak_mb()
