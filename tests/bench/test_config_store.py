"""Configuration specs, settings validation and the JSONL store: exact errors for bad input."""

import pytest

from jiasu.bench import BenchResult, BenchSettings, parse_configuration, parse_configurations
from jiasu.bench.store import append, load
from jiasu.bench.sweep import parse_batches
from jiasu.errors import JiasuError


def test_configuration_sweeps_a_value():
    configs = parse_configuration("jiasu:conv_algorithm=direct|im2col")
    assert [c.label for c in configs] == ["jiasu[conv_algorithm=direct]", "jiasu[conv_algorithm=im2col]"]
    assert configs[1].resolve(2).to_dict() == {"threads": 2, "conv_algorithm": "im2col", "passes": "default", "tune": False, "plan": "", "strategy": "", "device": "cpu", "cuda_graph": True}


def test_label_form_and_duplicates():
    configs = parse_configurations(["onnxruntime", "onnxruntime[spinning=false]", "onnxruntime:spinning=off"])
    assert [c.label for c in configs] == ["onnxruntime", "onnxruntime[spinning=false]"]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("nope", "unknown backend 'nope'; available: "),
        ("jiasu:algo=direct", "backend 'jiasu' has no option 'algo'; its options: threads (int, default 0); conv_algorithm (str, default 'auto'); passes (str, default 'default'); tune (bool, default False); plan (str, default ''); strategy (str, default '')"),
        ("jiasu:threads=two", "option 'threads' of backend 'jiasu' must be an integer, got 'two'"),
        ("onnxruntime:spinning=maybe", "option 'spinning' of backend 'onnxruntime' must be true or false, got 'maybe'"),
        ("jiasu:conv_algorithm", "configuration 'jiasu:conv_algorithm': options must look like KEY=VALUE, got 'conv_algorithm'"),
        ("jiasu:threads=1,threads=2", "configuration 'jiasu:threads=1,threads=2' sets 'threads' twice; to sweep it write threads=A|B"),
    ],
)
def test_bad_configurations(spec, message):
    with pytest.raises(JiasuError) as e:
        parse_configuration(spec)
    assert str(e.value).startswith(message)


def test_batches():
    assert parse_batches("1, 8,1,64") == [1, 8, 64]
    with pytest.raises(JiasuError, match=r"^batch sizes must be >= 1, got 0$"):
        parse_batches("0")
    with pytest.raises(JiasuError, match=r"^batch sizes must be positive integers separated by commas \(1,8,64\), got 'x'$"):
        parse_batches("1,x")


def test_settings_validation():
    with pytest.raises(JiasuError, match=r"^repeats must be >= 1, got 0$"):
        BenchSettings(repeats=0).validate()
    with pytest.raises(JiasuError, match=r"^tolerance must be > 0, got 0$"):
        BenchSettings(tolerance=0).validate()


def test_store_round_trip_and_latest(tmp_path):
    path = tmp_path / "r.jsonl"
    first = BenchResult("m", "jiasu", "jiasu", 1, per_image_ms=2.0, rel_l2=float("inf"), status="mismatch")
    second = BenchResult("m", "jiasu", "jiasu", 1, per_image_ms=1.5)
    append(path, [{"kind": "run", "run_id": "r1"}, first, second])
    store = load(path)
    assert list(store.runs) == ["r1"]
    assert [r.per_image_ms for r in store.results] == [2.0, 1.5]
    assert store.results[0].rel_l2 == "inf"  # JSON has no infinity: stored as text
    assert [r.per_image_ms for r in store.latest()] == [1.5]


def test_store_errors(tmp_path):
    with pytest.raises(JiasuError, match=r"results file not found: .*missing\.jsonl \(write one with `jiasu bench MODEL --store"):
        load(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "result"\n')
    with pytest.raises(JiasuError, match=r"bad\.jsonl:1 is not valid JSON .*; is this a jiasu results file\?$"):
        load(bad)
    other = tmp_path / "other.jsonl"
    other.write_text('{"kind": "metrics"}\n')
    with pytest.raises(JiasuError, match=r"other\.jsonl:1 is not a jiasu record \(kind 'metrics', expected 'run' or 'result'\)$"):
        load(other)
