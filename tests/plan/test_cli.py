"""`jiasu compile` and `jiasu run --plan` from the command line."""

from __future__ import annotations

import json

import pytest

from tests.conftest import first_layer_algorithm

from ..conftest import invoke


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JIASU_CACHE_DIR", str(tmp_path / "cache"))


def test_compile_writes_a_plan_that_run_uses(tmp_path, model_path):
    plan = tmp_path / "m.plan.json"
    r = invoke("compile", model_path, "--batch", 2, "--budget", 10, "-o", plan, "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["format"] == "jiasu-plan" and data["batch"] == 2
    [node] = data["nodes"]
    assert node["node"] == "conv0" and node["op_type"] == "FusedConv"  # Conv + Relu fused by the default passes
    fastest = min(node["timings_ms"], key=node["timings_ms"].get)
    if node["source"] == "tuned":
        assert node["algorithm"] == fastest
    elif node["source"] == "tuned in context":  # close contenders timed again inside whole runs: those times decide
        assert node["algorithm"] == min(node["context_ms"], key=node["context_ms"].get)
        assert len(node["context_ms"]) > 1 and set(node["context_ms"]) <= set(node["timings_ms"])
    elif node["source"] == "heuristic (no other C call within reach)":  # the fastest alone would have left C
        assert node["algorithm"] != fastest and node["algorithm"] == first_layer_algorithm()
    else:  # the node's fastest lost to the heuristic's choice over whole-model runs (a near tie on a noisy host)
        assert node["source"] == "heuristic (tuned plan was slower as a whole)" and data["validation"]["kept"] == "heuristic"
        assert node["algorithm"] != fastest and node["algorithm"] in node["timings_ms"]
    assert json.loads(plan.read_text())["nodes"] == data["nodes"]

    r = invoke("run", model_path, "--plan", plan, "--batch", 2, "--compare", "onnxruntime", "--json")
    assert r.exit_code == 0, r.output
    run = json.loads(r.output)
    assert run["algorithms"] == [{"node": "conv0", "algorithm": node["algorithm"], "fallback_reason": None}]
    assert run["compare"]["relative_l2"]["y"] < 1e-5


def test_compile_prints_per_node_table_and_memory(model_path):
    r = invoke("compile", model_path, "--no-tune")
    assert r.exit_code == 0, r.output
    assert "conv0" in r.output and first_layer_algorithm() in r.output and "heuristic" in r.output
    assert "memory: planned arena" in r.output


def test_run_refuses_plan_with_algo(tmp_path, model_path):
    plan = tmp_path / "p.json"
    assert invoke("compile", model_path, "--no-tune", "-o", plan).exit_code == 0
    r = invoke("run", model_path, "--plan", plan, "--algo", "winograd")
    assert r.exit_code == 2
    assert "error: --plan fixes the passes and every node's algorithm; drop --algo, --node-algo and --passes" in " ".join(r.output.split())


def test_unknown_pass_is_a_clear_error(model_path):
    r = invoke("compile", model_path, "--passes", "fold_everything")
    assert r.exit_code == 2
    assert "error: unknown pass 'fold_everything'; available:" in r.output


def test_list_passes():
    r = invoke("compile", "--list-passes", "--json")
    assert r.exit_code == 0
    names = [p["name"] for p in json.loads(r.output)]
    assert "fold_batchnorm" in names and "fuse_conv_activation" in names


def test_run_per_node_times(model_path):
    r = invoke("run", model_path, "--per-node", "--repeats", 2, "--json")
    assert r.exit_code == 0, r.output
    nodes = json.loads(r.output)["nodes"]
    assert [(n["node"], n["op"], n["algorithm"]) for n in nodes] == [("conv0", "FusedConv", first_layer_algorithm())]
    assert nodes[0]["ms"] > 0
    r = invoke("run", model_path, "--per-node", "--repeats", 2, "--passes", "none", "--algo", "direct")
    assert r.exit_code == 0, r.output
    assert "per node (best of the runs, step by step)" in r.output and "Relu" in r.output


def test_run_per_node_times_inside_chains():
    """smallcnn at batch 1 is one chain: every node also has its time inside whole runs, measured in C."""
    r = invoke("run", "zoo:smallcnn", "--per-node", "--repeats", 2, "--json")
    assert r.exit_code == 0, r.output
    nodes = json.loads(r.output)["nodes"]
    assert [n["op"] for n in nodes][-3:] == ["FusedGemm", "Gemm", "Softmax"]
    assert all(n["chain_ms"] is not None and 0 < n["chain_ms"] < 1e3 for n in nodes)
    r = invoke("run", "zoo:smallcnn", "--per-node", "--repeats", 2)
    assert r.exit_code == 0, r.output
    assert "in chains (timed in C inside whole runs) sum" in r.output and "in chain ms" in r.output


def test_bench_runs_the_engine_under_a_strategy(model_path):
    r = invoke("bench", model_path, "--backends", "jiasu", "--config", "jiasu:strategy=batch", "--batch", 4, "--repeats", 2,
               "--threads", 2, "--no-isolate", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    results = data["results"] if isinstance(data, dict) else data
    [run] = [x for x in results if x.get("configuration") == "jiasu[strategy=batch]"]
    assert run["status"] == "ok" and run["rel_l2"] < 1e-6
    assert run["details"]["strategy"] == {"strategy": "batch", "workers": 2, "intra_threads": 1}
