"""Roofline: the per-machine cache (with a fake measurement), floor times, efficiency, and a tiny real run."""

from __future__ import annotations

import json

import pytest

from jiasu.analysis import Machine, machine, measure, profile
from jiasu.analysis.roofline import CACHE_FILE, fingerprint

from ._build import f32, one_node

GFLOP, GB = 1e9, 1e9


def fake(threads: int, fp32=100 * GFLOP, bandwidth=10 * GB, int8=400 * GFLOP) -> Machine:
    fp = fingerprint(threads)
    return Machine(fp["cpu"], fp["cores"], threads, fp["torch"], fp32, bandwidth, int8, "fake")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JIASU_CACHE_DIR", str(tmp_path))
    return tmp_path / CACHE_FILE


class Counter:
    def __init__(self):
        self.calls = []

    def __call__(self, threads):
        self.calls.append(threads)
        return fake(threads)


def test_measured_once_then_read_from_the_cache(cache):
    measure_fn = Counter()
    first = machine(2, measure_fn=measure_fn)
    assert machine(2, measure_fn=measure_fn) == first
    assert measure_fn.calls == [2]
    stored = json.loads(cache.read_text())
    assert list(stored["machines"]) == [first.key] and "2 threads" in first.key


def test_each_thread_count_and_refresh_measure_again(cache):
    measure_fn = Counter()
    machine(2, measure_fn=measure_fn)
    machine(1, measure_fn=measure_fn)
    machine(2, refresh=True, measure_fn=measure_fn)
    assert measure_fn.calls == [2, 1, 2]
    assert len(json.loads(cache.read_text())["machines"]) == 2


def test_a_corrupt_cache_is_measured_over(cache):
    cache.write_text("{not json")
    measure_fn = Counter()
    machine(2, measure_fn=measure_fn)
    assert measure_fn.calls == [2]
    assert json.loads(cache.read_text())["format"] == 1


def test_floor_time_is_the_slower_roof():
    m = fake(2)
    assert m.floor_time(200 * GFLOP, 1 * GB, "fp32") == (2.0, "compute")
    assert m.floor_time(1 * GFLOP, 1 * GB, "fp32") == (0.1, "memory")
    assert m.floor_time(400 * GFLOP, 0, "int8") == (1.0, "compute")  # int8 uses its own peak
    assert m.peak("fp16") == (100 * GFLOP, "fp32 GEMM (no fp16 GEMM measured)")
    no_int8 = fake(2, int8=None)
    assert no_int8.peak("int8") == (100 * GFLOP, "fp32 GEMM (no int8 GEMM measured on this machine)")


def test_profile_floor_latency_and_efficiency():
    model = one_node("Conv", [1, 3, 8, 8], f32(4, 3, 3, 3))  # 3888 MACs: 7776 FLOPs
    p = profile(model, machine=fake(2, fp32=7776.0, bandwidth=1e12), measured_s=4.0)
    (node,) = p.nodes
    assert (node.time_s, node.bound) == (pytest.approx(1.0), "compute")
    assert p.totals.floor_s == pytest.approx(1.0)
    assert p.efficiency == pytest.approx(0.25)
    assert p.to_dict()["roofline"]["peak_ops"] == 7776.0


def test_profile_uses_the_cached_machine(cache):
    cache.write_text(json.dumps({"format": 1, "machines": {fake(3).key: fake(3).to_dict()}}))
    p = profile(one_node("Relu", [1, 3, 8, 8]), threads=3)
    assert p.machine == fake(3)


def test_measure_smoke():
    """A tiny real measurement: positive rates, a fingerprint, well under a second."""
    m = measure(threads=1, size=64, copy_mb=1, budget_s=0.0)
    assert m.fp32_flops > 0 and m.bandwidth > 0 and m.threads == 1
    assert m.int8_ops is None or m.int8_ops > 0
    assert m.measure_seconds < 5
