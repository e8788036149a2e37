"""The harness against fake backends: statistics from known run times, failures as results, the agreement check."""

import math

import pytest

from jiasu.bench import BenchSettings, Configuration, run_sweep
from jiasu.bench.harness import bench_one, reference_outputs
from jiasu.bench.store import load

from .fakes import (
    BrokenCompileBackend,
    FakeClock,
    MissingOutputBackend,
    NotInstalledBackend,
    ScriptedBackend,
    SleepBackend,
    WrongBackend,
    relu_model,
)


def one(cls, batch=4, clock=None, **settings):
    model = relu_model()
    s = BenchSettings(threads=1, **{"min_time_s": 0.0, **settings})
    kwargs = {"clock": clock} if clock else {}
    return bench_one(cls, Configuration(cls.name), model, batch, s, reference_outputs(model, batch, s.seed, 1), 1, **kwargs)


@pytest.fixture
def scripted(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(ScriptedBackend, "clock", clock)
    return clock


def test_statistics_from_known_run_times(scripted, monkeypatch):
    # checked first run 1 s, two warm-up runs of 5 s, then five timed runs of 10..50 ms (shuffled)
    monkeypatch.setattr(ScriptedBackend, "durations", [1.0, 5.0, 5.0, 0.010, 0.050, 0.020, 0.040, 0.030])
    r = one(ScriptedBackend, batch=4, clock=scripted, repeats=5, warmup=2)
    assert r.status == "ok" and r.error is None
    assert r.time_ms == pytest.approx({"median": 30.0, "p10": 14.0, "p90": 46.0, "min": 10.0, "mean": 30.0})
    assert r.samples_ms == pytest.approx([10.0, 50.0, 20.0, 40.0, 30.0])
    assert r.per_image_ms == pytest.approx(7.5)
    assert r.throughput_per_s == pytest.approx(4 / 0.030)
    # compile and the first run are reported apart and never enter the per-image time
    assert r.compile_s == pytest.approx(0.5)
    assert r.first_run_s == pytest.approx(1.0)
    assert r.rel_l2 == 0.0
    assert (r.repeats, r.warmup, r.threads, r.batch) == (5, 2, 1, 4)
    assert r.options == {"threads": 1}


def test_min_time_adds_timed_runs_until_it_is_filled(scripted, monkeypatch):
    # first run 1 s, one warm-up run, then runs of 0.1 s: 2 repeats are 0.2 s, so 6 runs make min_time_s = 0.55
    monkeypatch.setattr(ScriptedBackend, "durations", [1.0, 1.0, 0.1])
    r = one(ScriptedBackend, clock=scripted, repeats=2, warmup=1, min_time_s=0.55)
    assert r.status == "ok" and r.repeats == 6 and r.samples_ms == pytest.approx([100.0] * 6)
    # slow runs: the repeats alone fill it, and no more run
    monkeypatch.setattr(ScriptedBackend, "durations", [1.0, 1.0, 0.4])
    assert one(ScriptedBackend, clock=scripted, repeats=2, warmup=1, min_time_s=0.55).repeats == 2


def test_min_time_stops_at_max_runs_and_at_the_deadline(scripted, monkeypatch):
    from jiasu.bench import harness

    monkeypatch.setattr(ScriptedBackend, "durations", [1.0, 0.001])
    monkeypatch.setattr(harness, "MAX_RUNS", 7)
    r = one(ScriptedBackend, clock=scripted, repeats=2, warmup=0, min_time_s=10.0)
    assert r.status == "ok" and r.repeats == 7
    # past the deadline the extra runs stop, and the result is still a good one (the repeats asked for are done)
    monkeypatch.setattr(ScriptedBackend, "durations", [1.0, 1.0])
    r = one(ScriptedBackend, clock=scripted, repeats=2, warmup=0, min_time_s=100.0, timeout_s=5.0)
    assert r.status == "ok" and r.error is None and r.repeats == 4  # compile 0.5 + first run 1 + 4 runs > 5 s


def test_turns_share_min_time_by_their_runs(scripted, monkeypatch):
    """A turn of 2 of 6 repeats fills a third of min_time_s: 0.75 of 2.25 s, three runs of 0.25 s."""
    from jiasu.bench.harness import _Measurement

    monkeypatch.setattr(ScriptedBackend, "durations", [1.0, 0.25])
    model = relu_model()
    settings = BenchSettings(threads=1, repeats=6, warmup=0, rounds=3, isolate=True, min_time_s=2.25)
    m = _Measurement(ScriptedBackend, Configuration("scripted"), model, 1, settings, None, 1, clock=scripted)
    assert m.prepare()
    m.time(2)
    assert len(m.samples) == 3
    m.time(2)
    m.time(2)
    assert m.finish().repeats == 9


@pytest.mark.parametrize("value", [-1.0, float("nan")])
def test_bad_min_time_is_refused(value):
    from jiasu.errors import JiasuError

    with pytest.raises(JiasuError) as e:
        BenchSettings(min_time_s=value).validate()
    assert str(e.value) == f"min_time_s must be >= 0 seconds (0: exactly repeats runs), got {value}"


def test_real_sleep_times():
    r = one(SleepBackend, batch=2, repeats=3, warmup=1)
    assert r.status == "ok"
    assert 20.0 <= r.time_ms["min"] <= r.time_ms["median"] < 60.0
    assert r.per_image_ms == pytest.approx(r.time_ms["median"] / 2)
    assert r.peak_rss_mb > 0


def test_timeout_is_a_result(scripted, monkeypatch):
    monkeypatch.setattr(ScriptedBackend, "durations", [10.0])
    r = one(ScriptedBackend, clock=scripted, repeats=5, warmup=2, timeout_s=15)
    assert r.status == "timeout"
    assert r.error == "ran past its deadline after 1 of 2 warm-up calls (limit 15 s for compile, check, warm-up and 5 runs)"
    assert r.time_ms is None and not r.timed


def test_failing_backend_is_recorded_not_raised():
    r = one(BrokenCompileBackend, repeats=2)
    assert r.status == "failed"
    assert r.error == "compile failed: RuntimeError: no kernel for Relu"
    assert r.per_image_ms is None


def test_agreement_check_catches_wrong_numbers():
    r = one(WrongBackend, repeats=2, warmup=0)
    assert r.status == "mismatch"
    assert r.rel_l2 == pytest.approx(0.1, rel=1e-5)
    assert r.error == "outputs differ from the reference (ONNX Runtime): relative L2 error 0.1 > tolerance 0.001"
    assert r.timed  # still timed, but flagged: its numbers are wrong


def test_agreement_within_a_loose_tolerance_is_ok():
    r = one(WrongBackend, repeats=2, warmup=0, tolerance=0.2)
    assert r.status == "ok" and r.error is None


def test_missing_output_is_a_mismatch():
    r = one(MissingOutputBackend, repeats=1, warmup=0)
    assert r.status == "mismatch"
    assert math.isinf(r.rel_l2)
    assert r.error == "output 'y' missing; the backend returned z"


def test_unavailable_backend_names_the_install_command():
    r = one(NotInstalledBackend)
    assert r.status == "unavailable"
    assert r.error == "backend 'notinstalled' needs the Python package jiasu_no_such_package; install with: pip install jiasu-no-such-package"


def test_isolated_crash_costs_one_result_per_batch():
    model = relu_model()
    settings = BenchSettings(threads=1, repeats=1, warmup=0, isolate=True, timeout_s=60)
    run = run_sweep(model, [Configuration("crashy")], [1, 2], settings)
    assert [(r.batch, r.status, r.error) for r in run.results] == [
        (1, "crashed", "the worker process died (exit code 3) while running batch 1"),
        (2, "crashed", "the worker process died (exit code 3) while running batch 2"),
    ]


def test_sweep_goes_on_after_failures_and_streams_to_the_store(tmp_path):
    store = tmp_path / "results.jsonl"
    configs = [Configuration("broken"), Configuration("wrong"), Configuration("notinstalled"), Configuration("sleepy")]
    seen = []
    run = run_sweep(relu_model(), configs, "1,2", BenchSettings(threads=1, repeats=2, warmup=0), store=store, on_result=seen.append)
    statuses = [(r.configuration, r.batch, r.status) for r in run.results]
    assert statuses == [
        ("broken", 1, "failed"), ("broken", 2, "failed"),
        ("wrong", 1, "mismatch"), ("wrong", 2, "mismatch"),
        ("notinstalled", 1, "unavailable"), ("notinstalled", 2, "unavailable"),
        ("sleepy", 1, "ok"), ("sleepy", 2, "ok"),
    ]  # fmt: skip
    assert seen == run.results
    loaded = load(store)
    assert list(loaded.runs) == [run.run["run_id"]]
    assert [(r.configuration, r.batch, r.status) for r in loaded.results] == statuses
    header = loaded.runs[run.run["run_id"]]
    assert header["settings"]["threads"] == 1 and header["batches"] == [1, 2]
    env = header["environment"]
    assert env["cpu"]["model"] and env["cpu"]["usable_cores"] >= 1
    assert env["libraries"]["torch"] and env["libraries"]["onnxruntime"]
    assert isinstance(env["load_average_1m"], float)


def test_configurations_take_turns_at_their_timed_runs(tmp_path, monkeypatch):
    """With rounds, each configuration runs in its own worker and the timed runs go in turns, the first turn rotating:
    6 repeats in 3 rounds are 2 timed runs a turn, each after one untimed run."""
    log = tmp_path / "turns.log"
    monkeypatch.setenv("JIASU_TEST_TURN_LOG", str(log))
    settings = BenchSettings(threads=1, repeats=6, warmup=1, isolate=True, rounds=3, timeout_s=60, min_time_s=0)
    configs, started = [Configuration("turnlog_a"), Configuration("turnlog_b")], []
    run = run_sweep(relu_model(), configs, [1, 2], settings, on_start=started.append)
    assert started == configs
    assert [(r.configuration, r.batch, r.status, len(r.samples_ms)) for r in run.results] == [
        ("turnlog_a", 1, "ok", 6), ("turnlog_b", 1, "ok", 6), ("turnlog_a", 2, "ok", 6), ("turnlog_b", 2, "ok", 6),
    ]  # fmt: skip
    prepare = ["a", "a", "b", "b"]  # each worker's checked first run and its warm-up run, one worker after the other
    turns = ["a"] * 3 + ["b"] * 3 + ["b"] * 3 + ["a"] * 3 + ["a"] * 3 + ["b"] * 3  # rounds 1-3, the first turn rotating
    assert [line[-1] for line in log.read_text().split()] == (prepare + turns) * 2  # batch 1, then batch 2


def test_a_worker_lost_between_turns_costs_its_result_only(tmp_path, monkeypatch):
    monkeypatch.setenv("JIASU_TEST_TURN_LOG", str(tmp_path / "turns.log"))
    settings = BenchSettings(threads=1, repeats=3, warmup=1, isolate=True, rounds=3, timeout_s=60, min_time_s=0)
    configs = [Configuration("crash_later"), Configuration("broken"), Configuration("notinstalled"), Configuration("turnlog_a")]
    run = run_sweep(relu_model(), configs, [1], settings)
    assert [(r.configuration, r.status, r.error) for r in run.results] == [
        ("crash_later", "crashed", "the worker process died (exit code 5) while timing batch 1"),
        ("broken", "failed", "compile failed: RuntimeError: no kernel for Relu"),
        ("notinstalled", "unavailable", "backend 'notinstalled' needs the Python package jiasu_no_such_package; install with: pip install jiasu-no-such-package"),
        ("turnlog_a", "ok", None),
    ]  # fmt: skip
    assert len(run.results[3].samples_ms) == 3


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(repeats=4, rounds=5, isolate=True), "rounds must be between 1 and repeats (4): each round times at least one run, got 5"),
        (dict(repeats=4, rounds=0, isolate=True), "rounds must be between 1 and repeats (4): each round times at least one run, got 0"),
        (dict(repeats=4, rounds=2, isolate=False), "rounds > 1 needs isolate: configurations take turns each in its own process (in one "
         "process the libraries disturb each other's timings); turn isolation on (jiasu bench --isolate)"),
    ],
)
def test_bad_rounds_are_refused(settings, message):
    from jiasu.errors import JiasuError

    with pytest.raises(JiasuError) as e:
        BenchSettings(**settings).validate()
    assert str(e.value) == message


def test_round_sizes():
    from jiasu.bench.harness import round_sizes

    assert round_sizes(20, 3) == [7, 7, 6] and round_sizes(5, 5) == [1] * 5 and round_sizes(8, 1) == [8]

