"""Report formats from a known store: self-contained HTML, CSV, JSON, Markdown, PNG figures."""

import csv
import io
import json
import re

import pytest

from jiasu.errors import JiasuError
from jiasu.report import render_html, save_figures, to_csv, to_markdown, write_report
from jiasu.report.export import to_json


def test_html_is_self_contained(store):
    page = render_html(store, store.results)
    assert page.startswith("<!doctype html>")
    # no network: no external stylesheets, scripts or images
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<script" not in page
    images = re.findall(r'<img id="(plot-0-[a-z_]+)"[^>]* src="data:image/png;base64,', page)
    assert images == ["plot-0-per_image_linear", "plot-0-per_image_log", "plot-0-throughput"]
    assert "Test CPU 9000" in page and "AVX2, FMA" in page and "123.4 GFLOP/s" in page
    assert "compile failed: &lt;boom&gt; &amp; more" in page  # escaped
    assert page.count('<tr class="ok">') == 4 and page.count('<tr class="mismatch">') == 4 and page.count('<tr class="failed">') == 1


def test_csv(store):
    rows = list(csv.DictReader(io.StringIO(to_csv(store.results))))
    assert len(rows) == 9
    first = rows[0]
    assert (first["configuration"], first["batch"], first["status"]) == ("fast", "1", "ok")
    assert float(first["per_image_ms"]) == pytest.approx(1.0 / 1.1)
    assert float(first["throughput_per_s"]) == pytest.approx(1100.0)
    assert rows[-1]["error"] == "compile failed: <boom> & more"


def test_json_export_keeps_the_run_and_every_result(store):
    data = json.loads(to_json(store, store.results))
    assert [r["run_id"] for r in data["runs"]] == ["r1"]
    assert len(data["results"]) == 9
    assert data["results"][0]["time_ms"]["median"] == pytest.approx(1 / 1.1)


def test_markdown(store):
    md = to_markdown(store.results)
    lines = md.splitlines()
    assert lines[0] == "| configuration | batch | ms / image | ms / batch | p10 | p90 | images / s | compile s | rel. L2 error | status |"
    assert lines[2] == "| fast | 1 | 0.909 | 0.909 | 0.818 | 1.09 | 1,100 |  | 1.0e-07 | ok |"
    assert "- broken at batch 1: failed: compile failed: <boom> & more" in lines


def test_write_report_checks_every_suffix_first(store, tmp_path):
    with pytest.raises(JiasuError, match=r"^cannot write a report as '\.pdf'; use one of \.html, \.csv, \.json, \.md$"):
        write_report(store, [tmp_path / "r.html", tmp_path / "r.pdf"])
    assert not (tmp_path / "r.html").exists()
    written = write_report(store, [tmp_path / "r.html", tmp_path / "r.csv"])
    assert [p.name for p in written] == ["r.html", "r.csv"]


def test_figures(store, tmp_path):
    paths = save_figures(store.results, tmp_path)
    assert [p.name for p in paths] == ["smallcnn_per_image_linear.png", "smallcnn_per_image_log.png", "smallcnn_throughput.png"]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)


def test_terminal_table_keeps_brackets_in_labels_and_errors():
    """Configuration labels carry options in brackets; rich must print them, not read them as markup."""
    from rich.console import Console

    from jiasu.bench import BenchResult
    from jiasu.report.tables import rich_table

    results = [
        BenchResult("zoo:smallcnn", "jiasu[strategy=mixed]", "jiasu", 1, threads=2, time_ms={"median": 1.0, "p10": 1.0, "p90": 1.0},
                    per_image_ms=1.0, throughput_per_s=1e3),
        BenchResult("zoo:smallcnn", "openvino[precision=f32]", "openvino", 1, status="failed", error="compile failed: [bold] is not an op"),
    ]
    console = Console(width=300, record=True)
    console.print(rich_table(results))
    text = console.export_text()
    assert "jiasu[strategy=mixed]" in text
    assert "openvino[precision=f32]" in text
    assert "compile failed: [bold] is not an op" in text


def test_runs_text_says_how_each_cell_was_timed():
    from jiasu.report.tables import runs_text

    assert runs_text({"repeats": 20}) == "20 timed runs"  # a run stored before min_time_s and rounds
    assert runs_text({"repeats": 20, "min_time_s": 0.0, "rounds": 1}) == "20 timed runs"
    assert runs_text({"repeats": 32, "min_time_s": 2.0, "rounds": 16}) == (
        "32 timed runs, more until 2 s of them, in 16 turns taken in rotation"
    )
