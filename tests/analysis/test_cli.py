"""`jiasu profile`: JSON, HTML and errors through the CLI (the roofline comes from a fake cached measurement)."""

from __future__ import annotations

import json

import onnx
import pytest
from typer.testing import CliRunner

from jiasu.cli import app

from .test_roofline import fake

runner = CliRunner()


@pytest.fixture
def model_path(tmp_path, conv_relu_model, monkeypatch):
    monkeypatch.setenv("JIASU_CACHE_DIR", str(tmp_path))
    (tmp_path / "machine.json").write_text(json.dumps({"format": 1, "machines": {fake(2).key: fake(2).to_dict()}}))
    path = tmp_path / "m.onnx"
    onnx.save(conv_relu_model, path)
    return path


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_profile_json(model_path):
    r = invoke("profile", model_path, "--json", "--batch", 2, "--dtype", "int8", "--measured-ms", 1)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["batch"], out["dtype"]) == (2, "int8")
    assert out["totals"]["parameters"] == 112 and out["totals"]["macs"] == 2 * 6912
    assert out["roofline"]["machine"]["int8_method"] == "fake"
    assert out["efficiency"] == pytest.approx(out["totals"]["floor_s"] / 1e-3)
    assert [n["op_type"] for n in out["nodes"]] == ["Conv", "Relu"]


def test_profile_table_and_html(model_path, tmp_path):
    html = tmp_path / "out" / "profile.html"
    r = invoke("profile", model_path, "--no-roofline", "--html", html, "--cache-size", 0)
    assert r.exit_code == 0, r.output
    assert "top 10 nodes by FLOPs" in r.stdout and f"wrote {html}" in r.stdout.replace("\n", "")
    assert html.read_text().count("data:image/png;base64,") == 1  # no roofline chart without a roofline


def test_profile_energy_table(model_path, tmp_path):
    table = tmp_path / "t.json"
    table.write_text(json.dumps({"memory_pj_per_word": {"dram": 0, "sram": 0}}))
    r = invoke("profile", model_path, "--json", "--energy-table", table)
    assert r.exit_code == 0, r.output
    energy = json.loads(r.stdout)["totals"]["energy"]
    assert energy["dram_pj"] == energy["sram_pj"] == 0 and energy["compute_pj"] > 0


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dtype", "bf16"], "dtype 'bf16' is not supported; choose from: fp32, fp16, int8"),
        (["--energy-table", "nope.json"], "energy table not found: nope.json"),
    ],
)
def test_profile_errors(model_path, args, message):
    r = invoke("profile", model_path, *args)
    assert r.exit_code == 2
    assert message in r.stderr.replace("\n", " ")
