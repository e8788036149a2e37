"""Every zoo model, batch 1 and 4, on our engine vs ONNX Runtime, for every conv algorithm that applies.

Tolerances (relative L2 over each output, FP32): 1e-4 for every algorithm
except Winograd F(4x4,3x3), whose transforms amplify rounding error and which
is held to 1e-3 (the bound the issue states; measured errors are well below).

The fast suite runs the ImageNet-sized networks at a reduced image size (the
algorithms see the same layer types, at less cost); the full default sizes run
under ``-m slow``.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import jiasu
from jiasu import zoo
from jiasu.kernels.conv import CONV_ALGORITHMS
from jiasu.runtime.reference import relative_l2, run_onnxruntime

TOLERANCE = {"winograd": 1e-3, "winograd_f6": 1e-3}
DEFAULT_TOLERANCE = 1e-4

# Reduced sizes for the fast suite: small enough to be quick, large enough for every stride/pool to fit.
FAST_OPTIONS = {
    "alexnet": {"image_size": 64},
    "vgg16": {"image_size": 32},
    "googlenet": {"image_size": 64},
    "resnet18": {"image_size": 64},
    "resnet50": {"image_size": 64},
    "mobilenet_v2": {"image_size": 64},
    "unet": {"image_size": 32},
    "yolov3_tiny": {"image_size": 128},
}


@functools.lru_cache(maxsize=4)
def exported(name: str, options: tuple) -> object:
    return jiasu.load(f"zoo:{name}", **dict(options))


@functools.lru_cache(maxsize=8)
def reference(name: str, options: tuple, batch: int):
    model = exported(name, options)
    feeds = jiasu.example_feeds(model, batch=batch, seed=batch)
    return feeds, run_onnxruntime(model, feeds)


def applicable_algorithms(model) -> list[str]:
    """Algorithms that apply to at least one Conv node of the model (direct always does)."""
    engine_names = []
    for name in CONV_ALGORITHMS:
        engine = jiasu.Engine(model, conv_algorithm=name)
        if any(c.choice == name for c in engine.algorithm_report()):
            engine_names.append(name)
    return engine_names


def check_model(name: str, options: dict, batch: int) -> dict[str, float]:
    key = tuple(sorted(options.items()))
    model = exported(name, key)
    feeds, ref = reference(name, key, batch)
    errors = {}
    algorithms = applicable_algorithms(model)
    assert "direct" in algorithms
    for algo in algorithms:
        engine = jiasu.Engine(model, conv_algorithm=algo)
        out = engine.run_numpy(feeds)
        assert list(out) == list(ref), "outputs must come in the graph's order"
        for out_name, expected in ref.items():
            assert out[out_name].shape == expected.shape
            assert np.isfinite(expected).all() and np.abs(expected).max() > 0, "reference must be a meaningful signal"
            err = relative_l2(out[out_name], expected)
            errors[f"{algo}:{out_name}"] = err
            assert err <= TOLERANCE.get(algo, DEFAULT_TOLERANCE), f"{name} batch {batch} {algo} {out_name}: {err:.2e}"
    return errors


@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("name", zoo.names())
def test_zoo_model_matches_onnxruntime(name, batch):
    check_model(name, FAST_OPTIONS.get(name, {}), batch)


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 4])
@pytest.mark.parametrize("name", zoo.names())
def test_zoo_model_matches_onnxruntime_full_size(name, batch):
    check_model(name, {}, batch)


def test_algorithm_report_explains_fallbacks():
    model = exported("resnet18", tuple(sorted(FAST_OPTIONS["resnet18"].items())))
    report = jiasu.Engine(model, conv_algorithm="winograd").algorithm_report()
    by_choice = {}
    for c in report:
        by_choice.setdefault(c.choice, []).append(c)
    # resnet18 has 20 convs: 13 are 3x3 stride 1 and run Winograd; the 7x7 stem,
    # three stride-2 3x3s and three 1x1 downsamples fall back to direct.
    assert len(by_choice["winograd"]) == 13
    assert len(by_choice["direct"]) == 7
    assert {c.reason for c in by_choice["direct"]} == {"winograd: kernel 7x7, not 3x3", "winograd: stride 2x2, not 1", "winograd: kernel 1x1, not 3x3"}
