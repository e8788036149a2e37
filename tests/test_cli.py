"""The CLI is a thin layer: these tests check wiring, JSON output and error handling (exit 2, no traceback)."""

import json

import numpy as np
import onnx
import pytest

from .conftest import invoke


def test_info_json(model_path):
    r = invoke("info", model_path, "--json")
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["ops"] == {"Conv": 1, "Relu": 1}
    assert info["parameters"] == 4 * 3 * 3 * 3 + 4
    assert info["inputs"] == [{"name": "x", "dtype": "FLOAT", "shape": ["N", 3, 8, 8]}]


def test_run_json_with_compare(model_path):
    r = invoke("run", model_path, "--batch", 3, "--compare", "onnxruntime", "--repeats", 2, "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["batch"] == 3
    assert out["outputs"][0]["shape"] == [3, 4, 8, 8]
    assert out["compare"]["relative_l2"]["y"] < 1e-6
    assert out["algorithms"] == [{"node": "conv0", "algorithm": "onednn", "fallback_reason": None}]
    assert out["time_ms"]["repeats"] == 2 and out["time_ms"]["median"] > 0


def test_run_with_real_input_file(tmp_path, model_path):
    x = np.random.default_rng(0).random((2, 3, 8, 8), dtype=np.float32)
    np.save(tmp_path / "x.npy", x)
    r = invoke("run", model_path, "--input", f"x={tmp_path / 'x.npy'}", "--repeats", 1, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["batch"] == 2


def test_run_human_output(model_path):
    r = invoke("run", model_path, "--repeats", 1)
    assert r.exit_code == 0, r.output
    assert "conv algorithms: onednn x1" in r.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("run", "missing.onnx"), "error: model file not found: missing.onnx"),
        (("run", "{model}", "--algo", "magic"), "error: unknown convolution algorithm 'magic'; available:"),
        (("run", "{model}", "--compare", "tensorrt"), "error: --compare 'tensorrt' is not available; choose from: onnxruntime"),
        (("run", "{model}", "--node-algo", "conv0"), "error: --node-algo must look like NAME=VALUE, got 'conv0'"),
        (("run", "{model}", "--input", "x=nothere.npy"), "error: input file not found: nothere.npy"),
        (("export", "{model}", "-o", "x.onnx"), "error: export takes a zoo model (zoo:NAME)"),
    ],
)
def test_errors_exit_2_without_traceback(model_path, args, message):
    r = invoke(*[a.format(model=model_path) for a in args])
    assert r.exit_code == 2
    assert r.stderr.replace("\n", " ").startswith(message)
    assert "Traceback" not in r.output


def test_wrong_shape_input_file(tmp_path, model_path):
    np.save(tmp_path / "x.npy", np.zeros((1, 3, 5, 5), np.float32))
    r = invoke("run", model_path, "--input", f"x={tmp_path / 'x.npy'}")
    assert r.exit_code == 2
    assert "input 'x' has shape (1, 3, 5, 5), but the model expects (N, 3, 8, 8)" in r.stderr.replace("\n", " ")


def test_error_text_with_brackets_is_printed_verbatim(tmp_path):
    from onnx import TensorProto, helper

    from .conftest import make_model

    nodes = [helper.make_node("Reshape", ["x", "s"], ["y"], name="r")]
    proto = make_model(
        nodes,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]), helper.make_tensor_value_info("s", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None])],
    )
    onnx.save(proto, tmp_path / "r.onnx")
    np.save(tmp_path / "x.npy", np.zeros((2, 3), np.float32))
    np.save(tmp_path / "s.npy", np.array([4], np.int64))
    r = invoke("run", tmp_path / "r.onnx", "--input", f"x={tmp_path / 'x.npy'}", "--input", f"s={tmp_path / 's.npy'}")
    assert r.exit_code == 2
    assert "shape '[4]' is invalid" in r.stderr


# ---- jiasu bench --stream --------------------------------------------------------------------

STREAM_MODEL = "zoo:smallcnn?image_size=28&num_classes=10&padding=2"
STREAM_FAST = ("--stream", "--stream-count", 8, "--batch", 4, "--stream-passes", 1, "--warmup", 0, "--threads", 1, "--no-isolate")


def test_bench_stream_prints_both_throughputs_the_ratio_and_failures(monkeypatch):
    import re

    from jiasu import backends

    from .bench.fakes import BrokenCompileBackend

    monkeypatch.setitem(backends.BACKENDS, "broken", BrokenCompileBackend)
    r = invoke("bench", STREAM_MODEL, "--backends", "jiasu,onnxruntime,broken", *STREAM_FAST)
    assert r.exit_code == 0, r.output
    assert "streamed: 8 synthetic JPEGs (28x28, Fashion-MNIST upsampled) written to the temporary folder" in r.stdout
    figures = (r"end to end +[\d.]+ img/s \| compute only +[\d.]+ img/s \| ratio +[\d.]+% \| decode +[\d.]+ ms/image \| "
               r"loader wait [\d.]+ s of [\d.]+ s \(\d+%\), computing [\d.]+ s vs [\d.]+ s alone")
    for label in ("jiasu", "onnxruntime"):
        assert re.search(rf"^  {label} +batch 4 +{figures}$", r.stdout, re.M), r.stdout
    assert re.search(r"^  broken +batch 4 +failed: compile failed: RuntimeError: no kernel for Relu$", r.stdout, re.M), r.stdout


def test_bench_stream_json_from_an_images_folder(tmp_path):
    from jiasu.bench.stream import write_images

    write_images(tmp_path, 9, size=32, fmt="png")  # resized to 28x28 on decoding; 8 of 9 make whole batches
    r = invoke("bench", STREAM_MODEL, "--backends", "onnxruntime", *STREAM_FAST, "--images", tmp_path, "--loaders", 1,
               "--prefetch", 1, "--cache", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["run"]["images"] == f"9 images from {tmp_path}"
    assert out["run"]["settings"]["cache"] is True and out["run"]["input"] == {"channels": 1, "height": 28, "width": 28}
    (row,) = out["results"]
    assert (row["kind"], row["configuration"], row["status"], row["images"], row["workers"], row["prefetch"]) == (
        "stream", "onnxruntime", "ok", 8, 1, 1)
    assert row["ratio"] == pytest.approx(row["stream_images_per_s"] / row["compute_images_per_s"])


@pytest.mark.parametrize(
    "args, message",
    [
        (("--images", "{tmp}/nope"), "error: --images {tmp}/nope: no such folder; give a folder of JPEG or PNG files"),
        (("--images", "{tmp}"), "error: no JPEG or PNG files in '{tmp}'; give a folder of images"),
        (("--stream-count", 2), "error: --stream-count 2 is fewer than one batch of 4; raise --stream-count or lower --batch"),
        (("--store", "{tmp}/s.jsonl"), "error: --store holds sweep results, not streaming ones; with --stream use --json to keep them"),
    ],
)
def test_bench_stream_bad_input_is_one_line(tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("not an image")
    r = invoke("bench", STREAM_MODEL, *STREAM_FAST, *[str(a).format(tmp=tmp_path) for a in args])
    assert r.exit_code == 2
    assert r.stderr == message.format(tmp=tmp_path) + "\n"


def test_bench_stream_options_need_stream(tmp_path):
    r = invoke("bench", STREAM_MODEL, "--images", tmp_path, "--loaders", 3)
    assert r.exit_code == 2
    assert r.stderr == "error: --images, --loaders only apply with --stream\n"
