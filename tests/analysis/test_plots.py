"""Charts come back as PNG bytes, and are written where asked."""

from __future__ import annotations

from jiasu.analysis import profile
from jiasu.analysis.plots import layer_chart, roofline_chart

from .test_roofline import fake

PNG = b"\x89PNG\r\n\x1a\n"


def test_layer_chart(conv_relu_model, tmp_path):
    p = profile(conv_relu_model, machine=fake(2))
    path = tmp_path / "layers.png"
    data = layer_chart(p, path)
    assert data.startswith(PNG) and path.read_bytes() == data


def test_roofline_chart(conv_relu_model):
    assert roofline_chart(profile(conv_relu_model, machine=fake(2))).startswith(PNG)
    assert roofline_chart(profile(conv_relu_model, machine=False)) is None
    assert layer_chart(profile(conv_relu_model, machine=False)).startswith(PNG)  # MACs and energy only
