import pytest

from jiasu.bench import BenchResult
from jiasu.bench.store import Store

BATCHES = [1, 2, 4, 8]


@pytest.fixture
def store() -> Store:
    """Two configurations over four batch sizes, one mismatch, one failure, with a run header."""
    run = {
        "kind": "run",
        "run_id": "r1",
        "started_at": "2026-11-22T05:00:00+00:00",
        "model": "zoo:smallcnn",
        "batches": BATCHES,
        "configurations": ["fast", "slow", "broken"],
        "settings": {"threads": 2, "repeats": 5, "warmup": 1, "timeout_s": 300.0, "tolerance": 1e-3, "isolate": False, "seed": 0},
        "environment": {"cpu": {"model": "Test CPU 9000", "isa": ["AVX2", "FMA"], "usable_cores": 2, "logical_cores": 2},
                        "libraries": {"torch": "2.13.0"}, "load_average_1m": 0.5,
                        "gemm_peak": {"gflops": 123.4, "threads": 2, "measured_at": "2026-11-22T05:00:00", "via": "test"}},
    }  # fmt: skip
    results = []
    for name, per_image, status in (("fast", 1.0, "ok"), ("slow", 4.0, "mismatch")):
        for b in BATCHES:
            ms = per_image * b / (1 + 0.1 * b)
            results.append(
                BenchResult("zoo:smallcnn", name, name, b, status=status, threads=2, run_id="r1",
                            time_ms={"median": ms, "p10": ms * 0.9, "p90": ms * 1.2, "min": ms * 0.8, "mean": ms},
                            per_image_ms=ms / b, throughput_per_s=b / ms * 1e3, rel_l2=0.2 if status == "mismatch" else 1e-7,
                            error="relative L2 error 0.2 > tolerance 0.001" if status == "mismatch" else None)
            )  # fmt: skip
    results.append(BenchResult("zoo:smallcnn", "broken", "broken", 1, status="failed", threads=2, run_id="r1", error="compile failed: <boom> & more"))
    return Store(runs={"r1": run}, results=results)
