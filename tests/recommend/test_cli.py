"""`jiasu optimize` and `jiasu apply` from the command line."""

from __future__ import annotations

import json

import pytest

from jiasu.cli.optimize import parse_duration
from jiasu.errors import JiasuError
from tests.conftest import invoke

MODEL = "zoo:smallcnn?weights=fashion-mnist"


def flat(text: str) -> str:
    """The output with rich's line wrapping undone (words joined by single spaces)."""
    return " ".join(text.split())
FAST = ["--backends", "onnxruntime", "--precisions", "fp32,int8", "--prune", "none", "--threads", "1", "--val-limit", "100", "--min-time", "0.02", "--no-tune"]


def test_optimize_then_apply(tmp_path):
    out = tmp_path / "out"
    result = invoke("optimize", MODEL, *FAST, "--trials", "2", "-o", out)
    assert result.exit_code == 0, result.output
    chosen = json.loads((out / "result.json").read_text())
    chosen = next(t for t in chosen["trials"] if t["number"] == chosen["chosen"])
    assert "final comparison" in result.output and f"- Chosen: {chosen['label']}, " in flat(result.output)
    assert f"wrote recipe: {out / 'recipe.yaml'}" in result.output.replace("\n", "")
    applied = invoke("apply", out / "recipe.yaml", "-o", tmp_path / "again")
    assert applied.exit_code == 0, applied.output
    assert ": the same bytes as the model jiasu optimize chose" in flat(applied.output)
    assert (tmp_path / "again" / "model.onnx").read_bytes() == (out / "model.onnx").read_bytes()


def test_optimize_json(tmp_path):
    result = invoke("optimize", MODEL, *FAST, "--trials", "1", "--json", "-o", tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["format"] == "jiasu-optimize" and data["trials"][0]["label"] == "fp32 on onnxruntime, 1 thread"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--scenario", "fast"], "error: unknown scenario 'fast'; choose one of: latency, throughput, memory, energy"),
        (["--time-budget", "soon"], "error: cannot read 'soon' as a duration; write e.g. 300, 300s, 20m or 1h"),
        (["--data", "nowhere"], "error: cannot use 'nowhere' as data: not found or not a known kind;"),
    ],
)
def test_optimize_errors(tmp_path, args, message):
    result = invoke("optimize", MODEL, *args, "-o", tmp_path)
    assert result.exit_code == 2
    assert message in flat(result.output)


def test_apply_errors(tmp_path):
    result = invoke("apply", tmp_path / "missing.yaml")
    assert result.exit_code == 2
    assert f"error: recipe file not found: {tmp_path / 'missing.yaml'}; jiasu optimize writes one as OUTDIR/recipe.yaml" in result.output.replace("\n", "")


def test_parse_duration():
    assert [parse_duration(t) for t in ("90", "90s", "20m", "1.5h", " 2 min ")] == [90, 90, 1200, 5400, 120]
    with pytest.raises(JiasuError):
        parse_duration("-5m")
