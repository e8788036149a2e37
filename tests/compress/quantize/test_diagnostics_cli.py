"""Diagnostics (CPU features against /proc/cpuinfo, float-node counts), sensitivity, and the `jiasu quantize` CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx_ir as ir
import pytest

import jiasu
from jiasu.compress.quantize import quantize_static
from jiasu.compress.quantize.diagnostics import cpu_features, float_nodes, int8_products_saturate, qdq_overhead
from jiasu.passes.lower_int8 import lower_int8
from jiasu.compress.quantize.sensitivity import layer_sensitivity, mixed_precision

from ...conftest import invoke
from ._models import residual_model

CPUINFO = Path("/proc/cpuinfo")


def _first_flags() -> set[str]:
    for line in CPUINFO.read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return set(value.split())
    return set()


@pytest.mark.skipif(not CPUINFO.exists(), reason="no /proc/cpuinfo on this OS")
def test_cpu_features_report_this_machines_vnni_and_avx512_as_proc_cpuinfo_says():
    flags = _first_flags()
    cpu = cpu_features()
    for flag in ("avx512_vnni", "avx512f", "avx2", "amx_int8", "avx512_bf16"):
        if "avx2" in flags or "sse2" in flags:
            assert cpu.flags[flag] == (flag in flags), flag
    assert cpu.int8_dot_product == bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm"})


def test_cpu_features_from_a_given_cpuinfo(tmp_path):
    text = "processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu sse2 avx2 avx512f avx512bw\n\nprocessor\t: 1\nflags\t\t: avx512_vnni\n"
    (tmp_path / "cpuinfo").write_text(text)
    cpu = cpu_features(tmp_path / "cpuinfo")
    assert cpu.model == "Test CPU" and cpu.flags["avx512f"] and not cpu.flags["avx512_vnni"]  # first CPU only
    assert not cpu.int8_dot_product
    assert cpu.advice()[0].startswith("no int8 dot-product instruction")
    assert cpu.advice()[1].startswith("u8 x s8 products saturate in int16 here") and int8_products_saturate(cpu)
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd asimddp\nCPU part\t: 0xd0c\n")
    assert cpu_features(arm).flags == {"asimd": True, "asimddp": True, "i8mm": False} and cpu_features(arm).int8_dot_product
    assert not int8_products_saturate(cpu_features(arm))
    vnni = tmp_path / "vnni"
    vnni.write_text("processor\t: 0\nflags\t\t: sse2 avx2 avx512f avx512_vnni\n")
    assert not int8_products_saturate(cpu_features(vnni))


def test_float_node_count_of_a_partly_quantized_model():
    model, x = residual_model()
    full = quantize_static(model, x, batch_size=8)
    conv = [n.name for n in model.graph if n.op_type == "Conv"][1]
    part = quantize_static(model, x, exclude=[conv], batch_size=8, params=full.params)
    assert float_nodes(full.model).float == []
    rep = float_nodes(part.model)
    assert rep.float == [conv, "/Relu_1"]  # the excluded conv and the ReLU behind it
    assert rep.qdq == 14 and len(rep.int8) == 6
    assert float_nodes(model).float == [n.name for n in model.graph]  # nothing quantized: all float
    assert float_nodes(lower_int8(full.model)).float == []


def test_qdq_overhead_lists_every_q_dq_node_and_shrinks_after_lowering():
    model, x = residual_model()
    qdq = quantize_static(model, x, batch_size=8).model
    before = qdq_overhead(jiasu.Engine(qdq), {"input": x}, repeats=1)
    names = {n.name for n in qdq.graph if n.op_type in ("QuantizeLinear", "DequantizeLinear")}
    assert set(before["per_node_ms"]) == names and 0 < before["qdq_share"] < 1
    after = qdq_overhead(jiasu.Engine(lower_int8(qdq)), {"input": x}, repeats=1)
    assert len(after["per_node_ms"]) == 2  # the input's Q and the output's DQ


def test_sensitivity_ranks_every_layer_and_mixed_precision_meets_the_budget():
    model, x = residual_model()
    labels = jiasu.Engine(model).run_numpy({"input": x})["output"].reshape(len(x), -1).argmax(1)
    rows, full = layer_sensitivity(model, x, x)
    assert sorted(r.name for r in rows) == sorted(full.plan.nodes)
    errs = [r.relative_error for r in rows]
    assert errs == sorted(errs, reverse=True) and all(0 < e < 0.1 for e in errs)
    # a budget no quantized layer can meet keeps every layer but one in float, most sensitive first
    mixed = mixed_precision(model, x, x, labels, budget=-1.0)
    assert mixed.kept_float == [r.name for r in mixed.ranking][: len(mixed.ranking) - 1]
    loose = mixed_precision(model, x, x, labels, budget=100.0)
    assert loose.kept_float == [] and loose.accuracy == loose.int8_accuracy


def test_cli_static_writes_a_qdq_model_onnxruntime_runs(tmp_path):
    model, x = residual_model()
    src, calib, out = tmp_path / "m.onnx", tmp_path / "calib.npy", tmp_path / "q.onnx"
    ir.save(model, src)
    np.save(calib, x)
    r = invoke("quantize", src, "--mode", "static", "--calib", calib, "--method", "entropy", "-o", out, "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["quantized_nodes"] == ["/stem/Conv", "/conv1/Conv", "/conv2/Conv", "/Add"] and info["float_nodes"] == []
    assert info["bytes_after"] > 0  # (this toy has fewer weight bytes than Q/DQ metadata; sizes are measured on smallcnn)
    import onnxruntime as ort

    y = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    ref = jiasu.Engine(model).run_numpy({"input": x})["output"]
    assert np.abs(y - ref).mean() < 0.06 * np.abs(ref).mean()


def test_cli_diagnose_reports_cpu_and_float_nodes(tmp_path):
    model, x = residual_model()
    conv = [n.name for n in model.graph if n.op_type == "Conv"][1]
    src, calib, out = tmp_path / "m.onnx", tmp_path / "calib.npy", tmp_path / "q.onnx"
    ir.save(model, src)
    np.save(calib, x)
    assert invoke("quantize", src, "--calib", calib, "--keep-float", conv, "-o", out).exit_code == 0
    r = invoke("quantize", out, "--diagnose", "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["model"]["float_nodes"] == 2 and info["model"]["float"] == [conv, "/Relu_1"]
    if CPUINFO.exists():
        assert info["cpu"]["flags"].get("avx512_vnni", False) == ("avx512_vnni" in _first_flags())


@pytest.mark.parametrize(
    "args,message",
    [
        (["--mode", "int4", "-o", "x.onnx"], "error: unknown --mode 'int4'; choose one of: static, dynamic, fp16, bf16"),
        (["--mode", "static", "-o", "x.onnx"], "error: --mode static needs calibration data: --calib DATA"),
        (["--method", "kl", "-o", "x.onnx"], "error: unknown --method 'kl'; choose one of: minmax, percentile, entropy, mse"),
        (["--mode", "dynamic"], "error: missing -o/--output: where to write the quantized model, e.g. -o model_int8.onnx"),
    ],
)
def test_cli_errors(tmp_path, args, message):
    model, _ = residual_model()
    ir.save(model, tmp_path / "m.onnx")
    r = invoke("quantize", tmp_path / "m.onnx", *args)
    assert r.exit_code == 2 and " ".join(r.output.split()).startswith(message), r.output


@pytest.mark.parametrize("flag,bits", [("--reduce-range", 64), ("--full-range", 127)])
def test_cli_weight_range_flags(tmp_path, flag, bits):
    """--reduce-range / --full-range override the CPU-based default, and the JSON says which was used."""
    model, x = residual_model()
    src, calib, out = tmp_path / "m.onnx", tmp_path / "calib.npy", tmp_path / "q.onnx"
    ir.save(model, src)
    np.save(calib, x)
    r = invoke("quantize", src, "--calib", calib, flag, "-o", out, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["reduce_range"] == (bits == 64)
    stored = [n.inputs[0].const_value.numpy() for n in ir.load(out).graph
              if n.op_type == "DequantizeLinear" and n.inputs[0].const_value is not None and n.inputs[0].const_value.numpy().ndim == 4]
    assert max(int(np.abs(w).max()) for w in stored) == bits
