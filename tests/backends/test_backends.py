"""Every registered backend against the reference on a real model, and the registry's contract."""

import importlib.util

import pytest
import torch

from jiasu.backends import BACKENDS, DEFAULT_BACKENDS, BenchModel, get_backend
from jiasu.backends.openvino import OpenVinoBackend
from jiasu.bench import BenchSettings, Configuration, parse_configuration, run_sweep
from jiasu.bench.harness import bench_one, reference_outputs
from jiasu.errors import JiasuError
from jiasu.runtime.reference import DISABLED_ORT_OPTIMIZERS


@pytest.fixture(scope="module")
def smallcnn():
    return BenchModel.load("zoo:smallcnn")


def test_registry():
    assert list(BACKENDS) == ["jiasu", "onnxruntime", "openvino", "torch", "torch-compile"]
    assert DEFAULT_BACKENDS == ("jiasu", "onnxruntime", "openvino", "torch")
    with pytest.raises(JiasuError) as e:
        get_backend("tensorrt")
    assert str(e.value) == (
        "unknown backend 'tensorrt'; available: jiasu, onnxruntime, openvino, torch, torch-compile. "
        "To add one, see jiasu/backends/__init__.py."
    )


# torch-compile is left out: a cold inductor compile takes tens of seconds.
@pytest.mark.parametrize("spec", ["jiasu", "jiasu:conv_algorithm=im2col", "onnxruntime", "openvino", "torch", "torch:channels_last=true"])
def test_backend_matches_reference(smallcnn, spec):
    config = parse_configuration(spec)[0]
    cls = get_backend(config.backend)
    if not cls.is_available():
        pytest.skip(cls.unavailable_reason())
    settings = BenchSettings(threads=1, repeats=2, warmup=0)
    r = bench_one(cls, config, smallcnn, 2, settings, reference_outputs(smallcnn, 2, 0, 1), 1)
    assert r.status == "ok", r.error
    assert r.rel_l2 < 1e-5
    assert r.options["threads"] == 1
    assert r.per_image_ms > 0 and r.compile_s >= 0


def test_onnxruntime_disables_the_same_rewrites_as_the_reference(smallcnn):
    cls = get_backend("onnxruntime")
    settings = BenchSettings(threads=1, repeats=1, warmup=0)
    r = bench_one(cls, Configuration("onnxruntime"), smallcnn, 1, settings, None, 1)
    assert r.status == "ok", r.error
    assert DISABLED_ORT_OPTIMIZERS == ["Pad_Fusion"]
    assert r.options["disabled_optimizers"] == "Pad_Fusion"
    assert r.details["disabled_optimizers"] == ["Pad_Fusion"]
    assert r.details["providers"] == ["CPUExecutionProvider"]


def test_jiasu_reports_the_algorithms_that_ran(smallcnn):
    cls = get_backend("jiasu")
    r = bench_one(cls, parse_configuration("jiasu:conv_algorithm=im2col")[0], smallcnn, 1, BenchSettings(repeats=1, warmup=0), None, 1)
    assert r.details["conv_algorithms_used"] == {"im2col": 3}
    assert r.details["fallbacks"] == {}
    assert r.details["torch_threads"] == 1


@pytest.mark.parametrize(
    "spec, error",
    [
        ("jiasu:device=gpu", "unknown device 'gpu'; jiasu's engine runs on cpu, cuda or cuda:N"),
        pytest.param(
            "jiasu:device=cuda,tune=true",
            f"device 'cuda' is not available: this torch was built without CUDA (torch {torch.__version__}); use device 'cpu'",
            marks=pytest.mark.skipif(torch.version.cuda is not None, reason="this torch has CUDA"),
        ),
        pytest.param(
            "jiasu:device=cuda,strategy=batch",
            "jiasu:strategy is for the CPU, but device is 'cuda'; drop strategy for this device, or run it with device=cpu",
            marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
        ),
    ],
)
def test_jiasu_on_a_device_it_cannot_use_is_a_failed_result(smallcnn, spec, error):
    r = bench_one(get_backend("jiasu"), parse_configuration(spec)[0], smallcnn, 1, BenchSettings(repeats=1, warmup=0), None, 1)
    assert (r.status, r.error) == ("failed", f"compile failed: JiasuError: {error}")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_jiasu_on_cuda_reports_its_graphs(smallcnn):
    r = bench_one(get_backend("jiasu"), parse_configuration("jiasu:device=cuda")[0], smallcnn, 2, BenchSettings(repeats=2, warmup=1), reference_outputs(smallcnn, 2, 0, 1), 1)
    assert r.status == "ok", r.error
    assert r.rel_l2 < 1e-4
    assert r.details["device"] == "cuda" and r.details["cuda_graphs"] == {"captured": 1, "refused": {}}


@pytest.mark.skipif(not OpenVinoBackend.is_available(), reason="openvino is not installed")
def test_openvino_runs_f32_explicitly(smallcnn):
    r = bench_one(OpenVinoBackend, Configuration("openvino"), smallcnn, 1, BenchSettings(repeats=1, warmup=0), None, 1)
    assert r.status == "ok", r.error
    assert r.options["precision"] == "f32"
    assert r.details["compiled_properties"]["INFERENCE_PRECISION_HINT"] == "f32"
    assert r.details["compiled_properties"]["INFERENCE_NUM_THREADS"] == "1"


def test_missing_openvino_is_reported_and_the_sweep_goes_on(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    assert not OpenVinoBackend.is_available()
    reason = "backend 'openvino' needs the Python package openvino; install with: pip install 'jiasu[openvino]'  (or: pip install openvino)"
    assert OpenVinoBackend.unavailable_reason() == reason
    run = run_sweep("zoo:smallcnn", [Configuration("openvino"), Configuration("onnxruntime")], [1], BenchSettings(threads=1, repeats=1, warmup=0))
    assert [(r.configuration, r.status, r.error) for r in run.results] == [("openvino", "unavailable", reason), ("onnxruntime", "ok", None)]


def test_plain_onnx_has_no_module_for_torch(tmp_path, conv_relu_model):
    import onnx

    path = tmp_path / "m.onnx"
    onnx.save(conv_relu_model, path)
    model = BenchModel.load(str(path))
    r = bench_one(get_backend("torch"), Configuration("torch"), model, 1, BenchSettings(repeats=1, warmup=0), None, 1)
    assert r.status == "failed"
    assert r.error == (
        f"compile failed: JiasuError: backend 'torch' runs the source torch module, and {path} has none (it is plain ONNX); "
        "benchmark a zoo:NAME model, or BenchModel.load(module, example_input) from Python"
    )
