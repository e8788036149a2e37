"""The first processor block of ``/proc/cpuinfo``, parsed in one place for everything that asks about the CPU: the C
kernels' build digest (``kernels/native``), the tuning cache's machine key (``analysis.roofline.cpu_model``), the
int8 diagnostics (``compress.quantize.diagnostics``) and the benchmark environment (``bench.environment``)."""

from __future__ import annotations

import os
from pathlib import Path


def first_processor(path: str | os.PathLike = "/proc/cpuinfo") -> dict[str, str]:
    """``key -> value`` of the first processor block of ``path`` (x86: ``model name``, ``flags``, ...; ARM:
    ``Features``, ``CPU part``, ...); empty where the file cannot be read (off Linux) or holds nothing."""
    try:
        text = Path(path).read_text()
    except OSError:
        return {}
    info: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if info:
                break  # the end of the first block
            continue
        key, _, value = line.partition(":")
        info.setdefault(key.strip(), value.strip())
    return info
