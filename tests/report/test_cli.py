"""`jiasu bench` and `jiasu report` end to end: JSON on stdout, the store, the report files, errors that name the fix."""

import json


from ..conftest import invoke


def test_bench_json_store_and_report(tmp_path):
    store, html = tmp_path / "results.jsonl", tmp_path / "bench.html"
    r = invoke(
        "bench", "zoo:resnet18?image_size=32", "--backends", "jiasu,onnxruntime,torch", "--batch", "1,8",
        "--repeats", 2, "--warmup", 0, "--threads", 1, "--no-isolate", "--store", store, "-o", html, "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["run"]["settings"]["threads"] == 1
    pairs = {(x["configuration"], x["batch"]): x for x in out["results"]}
    assert sorted(pairs) == [("jiasu", 1), ("jiasu", 8), ("onnxruntime", 1), ("onnxruntime", 8), ("torch", 1), ("torch", 8)]
    for x in pairs.values():
        assert x["status"] == "ok", x["error"]
        assert x["per_image_ms"] > 0 and x["rel_l2"] < 1e-4
        # at least the 2 repeats, and more until the default --min-time (0.5 s) of them
        assert len(x["samples_ms"]) == x["repeats"] >= 2
        assert sum(x["samples_ms"]) >= 500.0 or x["repeats"] == 2000
    assert out["run"]["settings"]["min_time_s"] == 0.5
    assert pairs[("onnxruntime", 1)]["options"]["disabled_optimizers"] == "Pad_Fusion"
    assert 'id="plot-0-per_image_log"' in html.read_text()

    report, csv_path, figures = tmp_path / "again.html", tmp_path / "r.csv", tmp_path / "figs"
    r = invoke("report", store, "-o", report, "-o", csv_path, "--figures", figures)
    assert r.exit_code == 0, r.output
    assert "resnet18" in report.read_text()
    assert len(csv_path.read_text().splitlines()) == 1 + 6
    assert sorted(p.name for p in figures.iterdir())[0] == "resnet18_image_size_32_per_image_linear.png"


def test_bench_errors_name_the_fix(tmp_path):
    r = invoke("bench", "zoo:smallcnn", "--backends", "jiasu,tensorrt")
    assert r.exit_code == 2
    assert "unknown backend 'tensorrt'; available: jiasu, onnxruntime, openvino, torch, torch-compile" in r.stderr
    r = invoke("bench", "zoo:smallcnn", "-o", tmp_path / "r.pdf")
    assert r.exit_code == 2
    assert "--report" in r.stderr and "unknown format '.pdf'; use one of .html, .csv, .json, .md" in r.stderr
    r = invoke("bench")
    assert r.exit_code == 2
    assert "bench needs a MODEL (an .onnx file or zoo:NAME); or --list-backends to see the backends" in r.stderr
    r = invoke("report", tmp_path / "none.jsonl", "-o", tmp_path / "r.html")
    assert r.exit_code == 2
    assert "results file not found" in r.stderr


def test_list_backends():
    r = invoke("bench", "--list-backends")
    assert r.exit_code == 0, r.output
    text = " ".join(r.stdout.split())  # rich wraps at the test terminal's width
    for name in ("jiasu:", "onnxruntime:", "openvino:", "torch:", "torch-compile:"):
        assert name in text
    assert "conv_algorithm (str, default 'auto'; one of auto, direct, onednn, im2col," in text


def test_bench_table_keeps_going_after_a_failure(model_path, monkeypatch):
    from jiasu import cli

    monkeypatch.setattr(cli.console, "width", 250)  # the test terminal's 80 columns would wrap the table's words
    r = invoke("bench", model_path, "--backends", "onnxruntime,torch", "--batch", 2, "--repeats", 1, "--warmup", 0, "--threads", 1, "--no-isolate")
    assert r.exit_code == 0, r.output
    cells = [[c.strip() for c in line.split("│")[2:5]] for line in r.stdout.splitlines() if line.startswith("│ ")]
    assert [c for c in cells if c[1]] == [["onnxruntime", "2", "ok"], ["torch", "2", "failed"]]  # c[1]: a row's first line
    assert "compile failed: JiasuError" in r.stdout
