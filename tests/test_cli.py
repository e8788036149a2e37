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
