"""Terminal tables and the self-contained HTML section."""

from __future__ import annotations

from rich.console import Console

from jiasu.analysis import profile
from jiasu.analysis.report import binary, html_page, html_section, joules, rich_report, si

from .test_roofline import fake


def test_units():
    assert (si(1.5e9, "OP/s"), si(999), binary(3 * 2**20), joules(2.5e6)) == ("1.5 GOP/s", "999", "3 MiB", "2.5 µJ")


def test_html_section_is_self_contained(conv_relu_model):
    p = profile(conv_relu_model, machine=fake(2), measured_s=1e-3)
    section = html_section(p)
    assert section.startswith('<section class="jiasu-profile">') and section.endswith("</section>")
    assert section.count('src="data:image/png;base64,') == 2  # per-layer chart and roofline
    assert "conv0" in section and "floor latency" in section and "efficiency" in section
    page = html_page(p)
    assert page.startswith("<!DOCTYPE html>") and section in page


def test_rich_report(conv_relu_model):
    console = Console(width=160, record=True)
    for r in rich_report(profile(conv_relu_model, machine=False), top=1):
        console.print(r)
    text = console.export_text()
    assert "top 1 nodes by FLOPs" in text and "conv0" in text and "relu0" not in text.split("top 1 nodes")[1]
    assert "6.91 k (6,912)" in text
