"""Roofline of this machine: peak GEMM throughput and memory bandwidth, measured once and cached.

:func:`measure` takes a couple of seconds on ``threads`` threads (2 by default):

* FP32 peak: ``torch.matmul`` of two 2048x2048 float32 matrices, best of a few runs.
* INT8 peak: the faster of ``torch._int_mm`` (int8 x int8 -> int32) and PyTorch's
  quantised linear on its x86/fbgemm engine, whichever work here; None if neither does.
* Bandwidth: ``Tensor.copy_`` of 256 MB, counted as bytes read plus bytes written.

:func:`machine` returns the cached result for this machine's fingerprint (CPU
model, cores, threads, torch version) from ``$JIASU_CACHE_DIR/machine.json``
(default ``~/.cache/jiasu``), measuring and caching it on a miss.

A node's floor time is ``max(flops / peak, bytes / bandwidth)``; the model's
floor latency is the sum over nodes (one node at a time, each at the roof).
FP16 has no GEMM measurement (CPUs rarely run it natively): it uses the FP32 peak.
"""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

from ..cpuinfo import first_processor

DEFAULT_THREADS = 2
CACHE_ENV = "JIASU_CACHE_DIR"
CACHE_FILE = "machine.json"
_FORMAT = 1


@dataclass(frozen=True)
class Machine:
    """Measured peaks of one machine at one thread count."""

    cpu: str
    cores: int
    threads: int
    torch: str
    fp32_flops: float  # FLOP/s
    bandwidth: float  # bytes/s
    int8_ops: Optional[float] = None  # int8 OP/s (a MAC is 2 ops)
    int8_method: Optional[str] = None
    measure_seconds: float = 0.0
    measured_at: str = ""

    @property
    def key(self) -> str:
        return fingerprint_key(self.cpu, self.cores, self.threads, self.torch)

    def peak(self, dtype: str) -> tuple[float, str]:
        """Peak arithmetic throughput (ops/s) for ``dtype`` and what it was measured with."""
        if dtype == "int8" and self.int8_ops:
            return self.int8_ops, f"int8 GEMM ({self.int8_method})"
        if dtype == "int8":
            return self.fp32_flops, "fp32 GEMM (no int8 GEMM measured on this machine)"
        if dtype == "fp16":
            return self.fp32_flops, "fp32 GEMM (no fp16 GEMM measured)"
        return self.fp32_flops, "fp32 GEMM (torch.matmul)"

    def floor_time(self, flops: float, nbytes: float, dtype: str) -> tuple[float, str]:
        """(seconds, "compute" or "memory"): the roofline time of work with ``flops`` and ``nbytes``."""
        compute, memory = flops / self.peak(dtype)[0], nbytes / self.bandwidth
        return (compute, "compute") if compute >= memory else (memory, "memory")

    def to_dict(self) -> dict:
        return asdict(self)


def fingerprint(threads: int = DEFAULT_THREADS) -> dict:
    import torch

    return {"cpu": cpu_model(), "cores": os.cpu_count() or 1, "threads": threads, "torch": torch.__version__}


def fingerprint_key(cpu: str, cores: int, threads: int, torch: str) -> str:
    return f"{cpu} | {cores} cores | {threads} threads | torch {torch}"


def cpu_model() -> str:
    return first_processor().get("model name") or platform.processor() or platform.machine() or "unknown cpu"


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "jiasu")


def _best(fn: Callable[[], object], budget_s: float, min_runs: int = 2) -> float:
    """Fastest of repeated calls after one warm-up, running until ``budget_s`` is spent (at least ``min_runs``)."""
    fn()
    best, start, runs = float("inf"), time.perf_counter(), 0
    while runs < min_runs or time.perf_counter() - start < budget_s:
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        runs += 1
    return best


def _int8_candidates(n: int):
    """(method, ops per call, callable) for each int8 GEMM PyTorch can run here."""
    import torch

    # _int_mm has no fast CPU path in many builds (under 1 GOP/s): a small size keeps it quick.
    k = min(n, 256)
    a = torch.randint(-128, 127, (k, k), dtype=torch.int8)
    try:
        torch._int_mm(a, a)
        yield "torch._int_mm", 2 * k**3, lambda: torch._int_mm(a, a)
    except (RuntimeError, AttributeError):
        pass
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = torch.quantize_per_tensor(torch.rand(n, n), 0.01, 0, torch.quint8)
            w = torch.quantize_per_tensor(torch.randn(n, n), 0.02, 0, torch.qint8)
            packed = torch.ops.quantized.linear_prepack(w, None)
            torch.ops.quantized.linear(x, packed, 0.1, 0)
        engine = torch.backends.quantized.engine
        yield f"quantized linear ({engine})", 2 * n**3, lambda: torch.ops.quantized.linear(x, packed, 0.1, 0)
    except (RuntimeError, AttributeError):
        pass


def measure(threads: int = DEFAULT_THREADS, size: int = 2048, copy_mb: int = 256, budget_s: float = 0.6) -> Machine:
    """Measure this machine's roofline now (see the module docstring); a few seconds."""
    import torch

    start = time.perf_counter()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            a, b = torch.randn(size, size), torch.randn(size, size)
            fp32 = 2 * size**3 / _best(lambda: torch.matmul(a, b), budget_s)
            int8, method = None, None
            for name, ops, fn in _int8_candidates(size):
                rate = ops / _best(fn, budget_s / 2)
                if int8 is None or rate > int8:
                    int8, method = rate, name
            src = torch.empty(copy_mb * 2**20 // 4)
            src.fill_(1.0)
            dst = torch.empty_like(src)
            bandwidth = 2 * src.numel() * 4 / _best(lambda: dst.copy_(src), budget_s / 2)
    finally:
        torch.set_num_threads(previous)
    fp = fingerprint(threads)
    return Machine(
        fp["cpu"], fp["cores"], threads, fp["torch"], fp32, bandwidth, int8, method,
        measure_seconds=time.perf_counter() - start, measured_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )  # fmt: skip


def machine(threads: int = DEFAULT_THREADS, refresh: bool = False, measure_fn: Callable[[int], Machine] = measure) -> Machine:
    """This machine's roofline from the cache, measured (and cached) on a miss or when ``refresh``."""
    fp = fingerprint(threads)
    key = fingerprint_key(**fp)
    path = cache_dir() / CACHE_FILE
    data = _read_cache(path)
    if not refresh and key in data["machines"]:
        try:
            return Machine(**data["machines"][key])
        except TypeError:
            pass  # written by another version: measure again
    result = measure_fn(threads)
    data["machines"][key] = result.to_dict()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=2))
        tmp.replace(path)
    except OSError:
        pass  # a read-only home: the measurement still serves this run
    return result


def _read_cache(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
        if data.get("format") == _FORMAT and isinstance(data.get("machines"), dict):
            return data
    except (OSError, ValueError, AttributeError):
        pass
    return {"format": _FORMAT, "machines": {}}
