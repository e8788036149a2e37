"""profile(..., plan=...): the graph a plan runs (jiasu's fused ops counted), what the plan chose, and how it renders."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from rich.console import Console

from jiasu.analysis import PlanView, profile
from jiasu.analysis.report import html_section, rich_report, strategy_text
from jiasu.errors import JiasuError
from jiasu.passes import optimize
from jiasu.plan import compile_model
from tests.conftest import first_layer_algorithm

from ..conftest import make_model


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JIASU_CACHE_DIR", str(tmp_path / "cache"))


def conv_relu_pool() -> ir.Model:
    """x[N,3,8,8] -> Conv(4 filters 3x3, pad 1) -> Relu -> MaxPool 2x2 -> y: the passes fuse the first two."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n) for n, s in (("w", (4, 3, 3, 3)), ("b", (4,)))]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv0", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["c"], ["r"], name="relu0"),
        helper.make_node("MaxPool", ["r"], ["y"], name="pool0", kernel_shape=[2, 2], strides=[2, 2]),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4, 4, 4])
    return ir.serde.deserialize_model(make_model(nodes, [x], [y], inits))


def test_fused_graph_counts_the_same_arithmetic_and_fewer_bytes():
    raw = profile(conv_relu_pool(), batch=3, machine=False)
    fused_model, _ = optimize(conv_relu_pool())
    assert [(n.domain, n.op_type) for n in fused_model.graph] == [("jiasu", "FusedConv"), ("", "MaxPool")]
    fused = profile(fused_model, batch=3, machine=False)
    assert fused.warnings == []  # shapes carried through the jiasu op, and a rule for it
    assert [n.output_shapes for n in fused.nodes] == [[[3, 4, 8, 8]], [[3, 4, 4, 4]]]
    assert (fused.totals.macs, fused.totals.flops) == (raw.totals.macs, raw.totals.flops)
    assert fused.shares["macs"] == raw.shares["macs"]  # FLOPs shares move: the Relu's now count as the conv's
    # The Relu's read and write of the conv output are gone: 2 x 3x4x8x8 floats.
    assert raw.totals.bytes_moved - fused.totals.bytes_moved == 2 * 4 * 3 * 4 * 8 * 8


def test_profile_of_a_plan_file(tmp_path, conv_relu_model):
    conv_relu_model = ir.serde.deserialize_model(conv_relu_model)  # a plan names it by its graph: "test"
    compiled = compile_model(conv_relu_model, batch=2, budget_s=10, per_candidate_s=0.01, use_cache=False, validate=False)
    path = compiled.plan.save(tmp_path / "m.plan.json")
    [node] = compiled.plan.nodes
    threads = torch.get_num_threads()

    p = profile(conv_relu_model, plan=path, machine=False)
    assert torch.get_num_threads() == threads  # building the plan's engine does not change them
    assert p.batch == 2  # the plan's, by default
    assert [n.op_type for n in p.nodes] == ["FusedConv"]
    assert p.plan == PlanView(str(path), "test", compiled.plan.passes, 2, compiled.plan.threads, {},
                              {"conv0": (node.algorithm, node.timings_ms[node.algorithm])})
    d = p.to_dict()
    assert d["plan"] == {"file": str(path), "model": "test", "passes": compiled.plan.passes, "batch": 2,
                         "threads": compiled.plan.threads, "strategy": None}
    assert (d["nodes"][0]["algorithm"], d["nodes"][0]["algorithm_ms"]) == (node.algorithm, node.timings_ms[node.algorithm])
    assert profile(conv_relu_model, 4, plan=compiled.plan, machine=False).batch == 4  # a Plan object, another batch


def test_without_a_plan_nothing_changes(conv_relu_model):
    d = profile(conv_relu_model, machine=False).to_dict()
    assert "plan" not in d and all("algorithm" not in n for n in d["nodes"])
    assert d["batch"] == 1


def test_a_plan_is_fp32_and_for_its_own_model(conv_relu_model):
    conv_relu_model = ir.serde.deserialize_model(conv_relu_model)
    plan = compile_model(conv_relu_model, tune_algorithms=False).plan
    with pytest.raises(JiasuError, match=r"^dtype 'int8' with a plan: a plan runs the model's float tensors in fp32, so its graph is profiled "
                                         r"in fp32; profile the model without the plan to see int8 execution$"):
        profile(conv_relu_model, dtype="int8", plan=plan)
    other = conv_relu_pool()
    with pytest.raises(JiasuError, match=r"^the plan was compiled for another model \('test', sha256 [0-9a-f]{12}\.\.\.\), not 'test'"):
        profile(other, plan=plan, machine=False)


def test_strategy_lines():
    assert strategy_text({}) == "strategy: none (the kernels' own threads)"
    batch = {"name": "batch", "workers": 2, "options": {}, "timings_ms": {}, "describe": {"strategy": "batch", "workers": 2, "intra_threads": 1}}
    assert strategy_text(batch) == "strategy: batch on 2 workers, intra_threads=1"
    auto = {
        "name": "inter_op", "workers": 2, "options": {"policy": "fifo"},
        "timings_ms": {"sequential": 2.5, "inter_op:policy=fifo": 1.25, "spatial": "not applicable: no chain"},
        "describe": {"strategy": "inter_op", "workers": 2, "policy": "fifo"},
    }  # fmt: skip
    assert strategy_text(auto) == (
        "strategy: inter_op on 2 workers, policy=fifo; chosen by auto, the fastest of 2 measured "
        "(ms per run: inter_op:policy=fifo 1.250, sequential 2.500), 1 not applicable"
    )
    sequential = {"name": "sequential", "workers": 2, "options": {}, "timings_ms": {"sequential": 1.0}, "describe": {"strategy": "sequential", "workers": 1}}
    assert strategy_text(sequential).startswith("strategy: sequential on 1 worker; chosen by auto")
    mixed = {"name": "mixed", "workers": 2, "options": {}, "timings_ms": {}, "describe": {"strategy": "mixed", "workers": 2, "chosen": {}}}
    assert strategy_text(mixed) == "strategy: mixed on 2 workers; chooses the fastest strategy per input shape when it runs: nothing chosen yet"
    mixed["describe"]["chosen"] = {"{'x': (4, 3, 8, 8)}": "batch"}
    assert strategy_text(mixed).endswith("when it runs: {'x': (4, 3, 8, 8)} -> batch")


def test_terminal_and_html_show_the_plan(conv_relu_model):
    conv_relu_model = ir.serde.deserialize_model(conv_relu_model)
    compiled = compile_model(conv_relu_model, batch=2, tune_algorithms=False, strategy="batch", workers=2)
    compiled.runner.close()
    plan = compiled.plan
    p = profile(conv_relu_model, plan=plan, machine=False)
    console = Console(width=200, record=True)
    for r in rich_report(p):
        console.print(r)
    text = console.export_text()
    assert "plan: compiled for test at batch 2 on" in text and "strategy: batch on 2 workers, intra_threads=1" in text
    header = next(line for line in text.splitlines() if "node" in line and "MACs" in line)
    assert [c.strip() for c in header.strip("┃").split("┃")][-3:] == ["bound", "algorithm", "energy"]
    assert first_layer_algorithm() in text  # the heuristic's choice, untimed: no ms
    section = html_section(p, charts=False)
    assert "<th>bound</th><th>algorithm</th><th>energy</th>" in section and f"<td>{first_layer_algorithm()}</td>" in section
    assert "<p>strategy: batch on 2 workers, intra_threads=1</p>" in section
