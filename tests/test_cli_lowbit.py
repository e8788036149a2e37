"""`jiasu quantize --mode binary|ternary` end to end on the bundled Fashion-MNIST subset (issue #6, item 8).

Each run fine-tunes smallcnn (28x28x1, 10 classes) for one epoch on 256 images, writes the bit-packed
ONNX model and its .pt twin; the tests check the files, not just the command's own report.
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
import torch

import jiasu
from jiasu.cli.prune import TORCH_MODEL_HELP
from jiasu.data import fashion_mnist
from jiasu.frontends import export_module

from tests.conftest import invoke

SMALLCNN = "zoo:smallcnn?image_size=28&num_classes=10&padding=2&in_channels=1"
TRAIN = ("--data", "fashion-mnist-subset", "--limit", 256, "--finetune-epochs", 1, "--workers", 0, "--threads", 1)
# Engine vs torch on the output probabilities (smallcnn ends in Softmax): LowBitConv is exact float,
# LowBitGemm quantizes fc1's input to uint8 per call, so the two agree to about 1e-4 (measured 5e-5).
TOLERANCE = 1e-3


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("kind", ["binary", "ternary"])
def test_writes_a_bit_packed_model_that_our_engine_runs_like_the_torch_twin(kind, tmp_path):
    out = tmp_path / f"{kind}.onnx"
    r = invoke("quantize", SMALLCNN, "--mode", kind, *TRAIN, "-o", out, "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    # default layers: all Conv2d/Linear but the first conv and the last fc
    assert info["layers"] == ["conv2", "conv3", "fc1"] and info["float_layers"] == ["conv1", "fc2"]
    assert info["packed_nodes"] == ["/conv2/Conv", "/conv3/Conv", "/fc1/Gemm"] and "warning" not in info
    assert "only jiasu's engine runs it" in info["note"]

    model = jiasu.load(out)  # the written file loads in jiasu ...
    ops = Counter(f"{n.domain}::{n.op_type}" if n.domain else n.op_type for n in model.graph)
    assert ops["jiasu::LowBitConv"] == 2 and ops["jiasu::LowBitGemm"] == 1 and ops["Conv"] == 1 and ops["Gemm"] == 1
    kinds = {a.value for n in model.graph if n.domain == "jiasu" for a in n.attributes.values() if a.name == "kind"}
    assert kinds == {kind}

    saved = torch.load(tmp_path / f"{kind}.pt", weights_only=False)
    module = saved["module"].eval()
    images, _ = fashion_mnist.load_subset("test").numpy()
    x = np.asarray(images[:200], np.float32)
    got = jiasu.Engine(model).run_numpy({"input": x})["output"]  # ... and runs
    with torch.no_grad():
        ref = module(torch.from_numpy(x)).numpy()
    assert np.abs(got - ref).max() <= TOLERANCE
    assert (got.argmax(1) == ref.argmax(1)).mean() >= 0.99
    assert info["max_abs_error_engine_vs_torch"] <= TOLERANCE

    # size: against a float32 export of the same module, measured here
    fp32_bytes = len(export_module(module, saved["example_input"]))
    packed_bytes = out.stat().st_size
    assert fp32_bytes >= 5 * packed_bytes, (fp32_bytes, packed_bytes)
    assert info["onnx_bytes"] == packed_bytes and info["fp32_onnx_bytes"] == fp32_bytes


def test_chosen_layers_and_the_printed_report(tmp_path):
    out = tmp_path / "t.onnx"
    r = invoke("quantize", SMALLCNN, "--mode", "ternary", *TRAIN, "--layers", "conv3,fc1", "-o", out)
    assert r.exit_code == 0, r.output
    text = _flat(r.output)
    assert "ternary weights on conv3, fc1 (float32: conv1, conv2, fc2)" in text
    for part in ("accuracy on 1,000 validation images: FP32", "before fine-tuning", "after 1 STE epoch(s)", "x smaller); 2 node(s) packed: /conv3/Conv, /fc1/Gemm",
                 "engine vs torch", "only jiasu's engine runs it, ONNX Runtime and OpenVINO do not"):
        assert part in text, part
    ops = Counter(n.op_type for n in jiasu.load(out).graph)
    assert ops["LowBitConv"] == 1 and ops["LowBitGemm"] == 1 and ops["Conv"] == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (("model.onnx", "--mode", "binary", "-o", "x.onnx"),
         "error: model.onnx: --mode binary fine-tunes the weights with the straight-through estimator, so it needs torch weights, "
         f"not ONNX; give {TORCH_MODEL_HELP}"),
        ((SMALLCNN, "--mode", "ternary", "--layers", "conv2,conv9", "--layers", "fc", "-o", "x.onnx"),
         "error: unknown --layers 'conv9', 'fc'; the model's Conv2d/Linear layers are: conv1, conv2, conv3, fc1, fc2"),
        ((SMALLCNN, "--mode", "binary", "--calib", "fashion-mnist-subset", "-o", "x.onnx"),
         "error: --mode binary fine-tunes on training data: give it as --data DATA, not --calib"),
        ((SMALLCNN, "--mode", "binary"), "error: missing -o/--output: where to write the bit-packed model, e.g. -o model_binary.onnx"),
        ((SMALLCNN, "--mode", "binary", "-o", "x.pt"), "error: -o must name an .onnx file, got x.pt"),
    ],
)
def test_errors(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = invoke("quantize", *args)
    assert r.exit_code == 2, r.output
    assert _flat(r.output) == message
    assert not list(tmp_path.iterdir())  # nothing written
