"""The report of ``jiasu optimize`` from a hand-built result dict: headline, speedups, tables, escaping, the plot."""

from __future__ import annotations

import copy
import re

import pytest

from jiasu.report.optimize import pareto_png, render_optimize_html

RECIPE = {"prune": {"method": "channel", "ratio": 0.5}, "precision": "int8", "backend": "onnxruntime", "threads": 2}


def _trial(number, label, status="ok", accuracy=None, drop=None, objective=None, feasible=None, error=None):
    return {
        "number": number,
        "label": label,
        "recipe": RECIPE,
        "status": status,
        "feasible": feasible,
        "error": error,
        "accuracy": accuracy,
        "accuracy_drop": drop,
        "agreement": None if accuracy is None else accuracy + 8.0,
        "kl": 0.01,
        "objective": objective,
        "per_image_ms": objective,
        "throughput_per_s": None if objective is None else 1000.0 / objective,
        "size_bytes": 350000,
        "memory_bytes": 500000,
        "energy_uj": 12.5,
        "duration_s": 4.2,
    }


@pytest.fixture
def result() -> dict:
    trials = [
        _trial(0, "fp32 on jiasu, 2 threads", accuracy=89.4, drop=0.0, objective=0.50, feasible=True),
        _trial(1, "int8 on onnxruntime, 2 threads", accuracy=89.2, drop=0.2, objective=0.20, feasible=True),
        _trial(2, "channel 70% + int8 on onnxruntime, 2 threads", accuracy=85.0, drop=4.4, objective=0.05, feasible=False),
        _trial(3, "channel 50% + int8 <fast> & small", accuracy=88.9, drop=0.5, objective=0.10, feasible=True),
        _trial(4, "fp16 on openvino", status="failed", error="compile failed: <boom> & more"),
        _trial(5, "channel 90% on torch", status="pruned", error="accuracy far below the floor after 1 batch"),
        _trial(6, "channel 30% on jiasu, 1 thread", accuracy=89.0, drop=0.4, objective=0.30, feasible=True),
    ]
    final = [
        {"label": "channel 50% + int8 <fast> & small", "kind": "candidate", "trial": 3, "backend": "onnxruntime",
         "precision": "int8", "accuracy": 88.9, "objective": 0.10, "per_image_ms": 0.10, "throughput_per_s": 10000.0,
         "status": "ok", "error": None},
        {"label": "int8 on onnxruntime, 2 threads", "kind": "candidate", "trial": 1, "backend": "onnxruntime",
         "precision": "int8", "accuracy": 89.2, "objective": 0.20, "per_image_ms": 0.20, "throughput_per_s": 5000.0,
         "status": "ok", "error": None},
        {"label": "original fp32 on jiasu", "kind": "original", "trial": None, "backend": "jiasu",
         "precision": "fp32", "accuracy": 89.4, "objective": 0.50, "per_image_ms": 0.50, "throughput_per_s": 2000.0,
         "status": "ok", "error": None},
        {"label": "onnxruntime defaults", "kind": "peer-default", "trial": None, "backend": "onnxruntime",
         "precision": "fp32", "accuracy": 89.4, "objective": 0.25, "per_image_ms": 0.25, "throughput_per_s": 4000.0,
         "status": "ok", "error": None},
        {"label": "torch defaults", "kind": "peer-default", "trial": None, "backend": "torch",
         "precision": "fp32", "accuracy": 89.4, "objective": 0.40, "per_image_ms": 0.40, "throughput_per_s": 2500.0,
         "status": "ok", "error": None},
        {"label": "openvino defaults", "kind": "peer-default", "trial": None, "backend": "openvino",
         "precision": "fp32", "accuracy": None, "objective": None, "per_image_ms": None, "throughput_per_s": None,
         "status": "failed", "error": "openvino is not installed"},
    ]  # fmt: skip
    return {
        "format": "jiasu-optimize",
        "version": 1,
        "model": "zoo:smallcnn?weights=fashion-mnist",
        "data": "fashion-mnist-subset",
        "scenario": "latency",
        "objective": {"name": "per_image_ms", "label": "ms / image (batch 1)", "direction": "minimize", "unit": "ms"},
        "accuracy_metric": "top1",
        "max_accuracy_drop": 1.0,
        "baseline": {"accuracy": 89.4, "objective": 0.51, "label": "original fp32 on jiasu"},
        "trials": trials,
        "pareto": [0, 1, 3, 2],
        "final": final,
        "chosen": 3,
        "closest": None,
        "met_budget": True,
        "reasons": ["fastest candidate within 1.0 points of accuracy", "int8 kernels <VNNI> available on this CPU"],
        "per_layer": [
            {"name": "conv1", "op": "Conv", "algorithm": "onednn", "ms": 0.01, "share": 12.5, "macs": 1000},
            {"name": "fc", "op": "Gemm", "algorithm": "mlas", "ms": 0.07, "share": 87.5, "macs": 250000},
        ],
        "environment": {"cpu": {"model": "Test CPU 9000", "isa": ["AVX2", "FMA"]}, "python": "3.11.7", "threads": 2},
        "elapsed_s": 300.0,
        "study": "sqlite:///out/study.db",
        "search": "optuna-tpe",
    }


def _rows(page: str, section: str) -> list[str]:
    """The <tr> elements of the first table after the <h2> named ``section``."""
    start = page.index(f"<h2>{section}</h2>")
    table = page[start : page.index("</table>", start)]
    return re.findall(r"<tr[^>]*>.*?</tr>", table, flags=re.S)


def test_page_is_self_contained_and_has_every_section(result):
    page = render_optimize_html(result, recipe_yaml="backend: onnxruntime\nprecision: int8\n")
    assert page.startswith("<!doctype html>")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<script" not in page
    assert re.search(r'<img id="pareto" [^>]*src="data:image/png;base64,', page)
    for section in ("Final comparison", "Why this choice", "Recipe", "Per-layer", "All trials", "Environment"):
        assert f"<h2>{section}</h2>" in page
    assert "<title>jiasu optimize: zoo:smallcnn?weights=fashion-mnist</title>" in page


def test_headline_shows_chosen_recipe_and_speedups(result):
    page = render_optimize_html(result)
    head = page[page.index('id="headline"') : page.index("<h2>")]
    assert "channel 50% + int8 &lt;fast&gt; &amp; small" in head
    assert "88.90%" in head and "0.50 pts" in head  # 89.4 (original, final run) - 88.9
    assert "ms / image (batch 1): <b>0.100 ms</b>" in head
    # original 0.50 ms vs chosen 0.10 ms; fastest peer (onnxruntime defaults) 0.25 ms vs 0.10 ms
    assert re.search(r'id="speedup-original"><b>5\.00x faster</b> than the unoptimized model', head)
    assert re.search(r'id="speedup-peer"><b>2\.50x faster</b> than the fastest peer default</span> \(onnxruntime defaults', head)
    assert 'class="nobudget"' not in page


def test_final_table_marks_the_chosen_row_and_computes_speedups(result):
    rows = _rows(render_optimize_html(result), "Final comparison")
    header, body = rows[0], rows[1:]
    assert "speedup vs fastest peer default" in header
    assert len(body) == 6
    chosen = [r for r in body if 'class="ok chosen"' in r]
    assert len(chosen) == 1 and "(chosen)" in chosen[0] and "&lt;fast&gt;" in chosen[0]
    assert "<td>2.50x</td>" in chosen[0]
    by_label = {re.search(r'<td class="text">(.*?)</td>', r).group(1): r for r in body}
    assert "<td>1.25x</td>" in by_label["int8 on onnxruntime, 2 threads"]  # 0.25 / 0.20
    assert "<td>0.50x</td>" in by_label["original fp32 on jiasu"]  # 0.25 / 0.50
    assert "<td>1.00x</td>" in by_label["onnxruntime defaults"]
    assert "<td>0.62x</td>" in by_label["torch defaults"]  # 0.25 / 0.40 = 0.625
    failed = by_label["openvino defaults"]
    assert 'class="failed"' in failed and "openvino is not installed" in failed and "<td>–</td>" in failed


def test_maximize_objective_inverts_the_ratio(result):
    result["scenario"] = "throughput"
    result["objective"] = {"name": "throughput_per_s", "label": "images / s (batch 64)", "direction": "maximize", "unit": "img/s"}
    for f in result["final"]:
        f["objective"] = f["throughput_per_s"]
    for t in result["trials"]:
        t["objective"] = t["throughput_per_s"]
    page = render_optimize_html(result)
    assert re.search(r'id="speedup-original"><b>5\.00x faster</b>', page)  # 10000 / 2000
    assert re.search(r'id="speedup-peer"><b>2\.50x faster</b>', page)  # 10000 / 4000
    assert pareto_png(result).startswith(b"\x89PNG")


def test_reasons_recipe_and_command(result):
    page = render_optimize_html(result, recipe_yaml="backend: onnxruntime\nnote: a < b & c\n")
    assert "<li>int8 kernels &lt;VNNI&gt; available on this CPU</li>" in page
    assert '<pre class="recipe">backend: onnxruntime\nnote: a &lt; b &amp; c\n</pre>' in page
    assert "jiasu apply recipe.yaml &#x27;zoo:smallcnn?weights=fashion-mnist&#x27; -o OUT" in page


def test_recipe_falls_back_to_the_chosen_trials_recipe(result):
    page = render_optimize_html(result)
    recipe = page[page.index('<pre class="recipe">') : page.index("</pre>")]
    assert "precision: int8" in recipe and "ratio: 0.5" in recipe


def test_per_layer_table_and_empty_per_layer(result):
    rows = _rows(render_optimize_html(result), "Per-layer")
    assert len(rows) == 3
    assert "conv1" in rows[1] and "onednn" in rows[1] and "12.5" in rows[1]
    assert "250,000" in rows[2]
    result["per_layer"] = []
    page = render_optimize_html(result)
    section = page[page.index("<h2>Per-layer</h2>") : page.index("<h2>All trials</h2>")]
    assert "No per-layer timing" in section and "<table>" not in section


def test_trials_table_colours_rows_by_status(result):
    rows = _rows(render_optimize_html(result), "All trials")[1:]
    assert len(rows) == 7
    classes = [re.match(r'<tr class="([^"]*)"', r).group(1) for r in rows]
    assert classes == ["ok", "ok", "ok over-budget", "ok chosen", "failed", "pruned", "ok"]
    assert "compile failed: &lt;boom&gt; &amp; more" in rows[4] and 'class="error"' in rows[4]
    assert "accuracy far below the floor" in rows[5]
    assert "over budget: drop 4.40 pts &gt; 1.00 pts" in rows[2]
    assert "<td>yes</td>" in rows[3] and "<td>yes</td>" not in rows[6]


def test_environment_and_run_facts(result):
    page = render_optimize_html(result)
    env = page[page.index("<h2>Environment</h2>") :]
    assert "<dt>cpu.model</dt><dd>Test CPU 9000</dd>" in env
    assert "<dt>cpu.isa</dt><dd>AVX2, FMA</dd>" in env
    assert "<dd>sqlite:///out/study.db</dd>" in env and "<dd>optuna-tpe</dd>" in env
    assert "300 s (5 min 0 s)" in env


def test_no_candidate_met_the_budget(result):
    result = copy.deepcopy(result)
    for t in result["trials"]:
        if t["status"] == "ok":
            t["feasible"] = False
    result.update(met_budget=False, chosen=None, closest=1, reasons=["every candidate lost more than 1.0 points"])
    result["final"] = [f for f in result["final"] if f["kind"] != "candidate" or f["trial"] == 1]
    page = render_optimize_html(result)
    box = page[page.index('class="nobudget"') : page.index("<h2>")]
    assert "No candidate met the budget" in box
    assert "trial 1: int8 on onnxruntime, 2 threads" in box and "89.20%" in box
    assert "2.50x" in box  # 0.50 / 0.20, shown as what it would have gained
    assert 'id="headline"' not in page
    assert "chosen" not in "".join(_rows(page, "Final comparison"))
    assert "this is the closest one (trial 1)" in page
    assert "closest to the budget" in "".join(_rows(page, "All trials"))
    assert ".nobudget" in page and "#c62828" in page  # the red box style is inline


def test_minimal_result_renders():
    minimal = {
        "scenario": "latency",
        "objective": {"label": "ms / image", "direction": "minimize"},
        "trials": [],
        "final": [],
        "met_budget": False,
    }
    page = render_optimize_html(minimal)
    assert "No candidate met the budget" in page
    assert "No trials were run." in page and "No final comparison" in page
    assert "No per-layer timing" in page and "No environment was recorded." in page
    assert pareto_png(minimal).startswith(b"\x89PNG")
    assert render_optimize_html({"scenario": "memory", "objective": {}, "trials": [], "final": [], "met_budget": True})


def test_sparse_entries_do_not_crash():
    sparse = {
        "scenario": "energy",
        "objective": {"label": "µJ / image", "direction": "minimize", "unit": "uJ"},
        "trials": [{"number": 0, "status": "ok"}, {"number": 1, "status": "failed"}, {"status": "pruned", "objective": float("nan")}],
        "final": [{"label": "only a label"}, {"kind": "original", "objective": 0}, {"kind": "peer-default", "objective": "n/a"}],
        "met_budget": True,
        "chosen": 0,
        "pareto": [0],
        "per_layer": [{"name": "x"}],
        "environment": "not a dict",
    }
    page = render_optimize_html(sparse)
    assert 'id="headline"' in page and "no peer default measured" in page
    assert pareto_png(sparse).startswith(b"\x89PNG")


def test_html_special_characters_are_escaped(result):
    evil = '<script>alert("x")</script> & co'
    result["trials"][3]["label"] = evil
    result["final"][0]["label"] = evil
    result["model"] = "zoo:<b>"
    result["environment"]["note<"] = "a>b"
    page = render_optimize_html(result, title="t <i>")
    assert "<script" not in page and evil not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page
    assert "<title>t &lt;i&gt;</title>" in page and "zoo:&lt;b&gt;" in page
    assert "<dt>note&lt;</dt><dd>a&gt;b</dd>" in page


def test_pareto_png(result):
    png = pareto_png(result)
    assert png.startswith(b"\x89PNG")
    assert len(pareto_png(result, dpi=50)) < len(png)
    # a wide span (0.05 .. 0.50 ms plus a far-off point) switches to a log axis without failing
    result["trials"][0]["objective"] = 50.0
    assert pareto_png(result).startswith(b"\x89PNG")
    # agreement metric, nothing but failures
    result.update(accuracy_metric="agreement", trials=[t for t in result["trials"] if t["status"] != "ok"], final=[])
    assert pareto_png(result).startswith(b"\x89PNG")


def test_a_loss_reads_as_slower_not_as_a_fraction_faster():
    from jiasu.report.optimize import _versus

    assert _versus(2.5, "faster") == "2.50x faster"
    assert _versus(0.8, "faster") == "1.25x slower"
    assert _versus(0.5, "less memory") == "2.00x more memory"
