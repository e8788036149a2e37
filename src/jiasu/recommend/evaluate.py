"""Measure one candidate: accuracy on held-out data, and the scenario's objective.

Accuracy runs the candidate's ONNX on the backend that will serve it (an int8 model on ONNX Runtime
is what ONNX Runtime computes, not what torch computes), over the validation images. With labels it
is top-1 accuracy; without labels (every label -1) it is top-1 *agreement* with the original model's
predictions, and the report says which. Both ways the mean KL divergence from the original model's
output distribution is recorded too.

Objectives (:data:`SCENARIOS`; each is minimized by the search, and shown in its natural direction):

=============  ===================================================================================
latency        ms per image at the scenario's batch (default 1), median of timed runs
throughput     images per second at the scenario's batch (default 64)
memory         bytes of the stored model plus the peak of live activations (:mod:`jiasu.analysis`)
energy         µJ per image from the 45 nm energy table at the candidate's arithmetic precision
=============  ===================================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
import time
from typing import Any, Callable, Optional

import numpy as np

from ..errors import JiasuError
from .build import Built
from .recipe import Recipe


@dataclass(frozen=True)
class Objective:
    name: str  # the trial record's field
    label: str  # axis label; {batch} is filled in
    direction: str  # minimize | maximize (how the value reads; the search always minimizes `score`)
    unit: str
    default_batch: int
    timed: bool  # whether the value needs a timing run

    def describe(self, batch: int) -> dict[str, Any]:
        return {"name": self.name, "label": self.label.format(batch=batch), "direction": self.direction, "unit": self.unit}

    def score(self, value: float) -> float:
        """The value as something to minimize."""
        return -value if self.direction == "maximize" else value


SCENARIOS: dict[str, Objective] = {
    "latency": Objective("per_image_ms", "ms / image (batch {batch})", "minimize", "ms", 1, True),
    "throughput": Objective("throughput_per_s", "images / s (batch {batch})", "maximize", "1/s", 64, True),
    "memory": Objective("memory_bytes", "model + peak activation bytes", "minimize", "B", 1, False),
    "energy": Objective("energy_uj", "µJ / image (45 nm table)", "minimize", "µJ", 1, False),
}


def get_scenario(name: str) -> Objective:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise JiasuError(f"unknown scenario {name!r}; choose one of: {', '.join(SCENARIOS)}") from None


# ---- running a model on a backend --------------------------------------------------------------


def backend_options(recipe: Recipe, for_timing: bool) -> dict[str, Any]:
    """The backend options a recipe stands for (``for_timing``: include the ones that only change speed)."""
    options: dict[str, Any] = {}
    if recipe.backend == "jiasu":
        options["passes"] = recipe.passes
        if for_timing and recipe.conv_plan == "tuned":
            options["tune"] = True
        if for_timing and recipe.strategy:
            options["strategy"] = recipe.strategy
    if recipe.backend == "openvino":
        # Stated, not left to the plugin: on AVX512-BF16 CPUs OpenVINO otherwise computes in bf16
        # (1.3-1.8x slower here, and not the precision the recipe asked for).
        options["precision"] = "f16" if recipe.precision == "fp16" else "f32"
    return options


def compiled_backend(onnx: bytes, recipe: Recipe, batch: int, threads: int, for_timing: bool = False, label: str = "candidate"):
    """A compiled backend instance running ``onnx`` at ``batch`` (the caller closes it)."""
    from ..backends import BenchModel, get_backend
    from ..bench.config import Configuration

    cls = get_backend(recipe.backend)
    reason = cls.unavailable_reason()
    if reason:
        raise JiasuError(f"backend {recipe.backend!r} is not available: {reason}")
    config = Configuration(recipe.backend, tuple(backend_options(recipe, for_timing).items()))
    backend = cls()
    backend.compile(BenchModel(label, onnx, None, batch), config.resolve(threads, cls))
    return backend


def input_name(onnx: bytes) -> str:
    """Name of the model's (first) image input, the one every candidate is fed."""
    from ..frontends import load_onnx
    from ..frontends.inputs import model_inputs

    return model_inputs(load_onnx(onnx, check=False))[0].name


def predict(onnx: bytes, recipe: Recipe, images: np.ndarray, batch: int = 100, threads: int = 0) -> np.ndarray:
    """The model's first output for every image, run on the recipe's backend in batches of ``batch``."""
    name = input_name(onnx)
    batch = min(batch, len(images))
    backend = compiled_backend(onnx, recipe, batch, threads)
    try:
        outs = []
        for start in range(0, len(images), batch):
            chunk = images[start : start + batch]
            n = len(chunk)
            if n < batch:  # backends compiled for a static batch get a padded last chunk
                chunk = np.concatenate([chunk, np.zeros((batch - n,) + chunk.shape[1:], chunk.dtype)])
            result = backend.run({name: np.ascontiguousarray(chunk, dtype=np.float32)})
            outs.append(np.asarray(next(iter(result.values())), dtype=np.float32)[:n])
    finally:
        backend.close()
    return np.concatenate(outs)


def is_distribution(outputs: np.ndarray) -> bool:
    """Whether rows are already probabilities (a softmax head): non-negative, summing to 1."""
    outputs = outputs.reshape(len(outputs), -1)
    return bool(outputs.min() >= 0 and np.allclose(outputs.sum(1), 1.0, atol=1e-3))


def probabilities(outputs: np.ndarray, distribution: Optional[bool] = None) -> np.ndarray:
    """Rows of class probabilities: the outputs renormalized if they are a softmax head's, else their softmax.

    ``distribution`` says which (default: judged from ``outputs``); the reference decides it once for
    every candidate, since a 16-bit or int8 candidate's softmax may miss a sum of 1 by more than rounding.
    """
    outputs = outputs.reshape(len(outputs), -1).astype(np.float64)
    if distribution is None:
        distribution = is_distribution(outputs)
    if distribution:
        clipped = np.clip(outputs, 0.0, None)
        return clipped / np.maximum(clipped.sum(1, keepdims=True), 1e-30)
    z = outputs - outputs.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


@dataclass
class Reference:
    """The validation set and the original model's answers on it."""

    images: np.ndarray
    labels: Optional[np.ndarray]  # None: no labels (accuracy = agreement)
    probs: np.ndarray  # the original model's output distribution
    distribution: bool = False  # the model ends in a softmax (its outputs are probabilities)

    @property
    def metric(self) -> str:
        return "top1" if self.labels is not None else "agreement"

    @classmethod
    def make(cls, original_onnx: bytes, images: np.ndarray, labels: Optional[np.ndarray], threads: int = 0) -> "Reference":
        # The original runs on ONNX Runtime in FP32: the answer every candidate is compared with.
        outputs = predict(original_onnx, Recipe(backend="onnxruntime"), images, threads=threads)
        distribution = is_distribution(outputs)
        if labels is not None and (labels < 0).any():
            labels = None
        return cls(images, labels, probabilities(outputs, distribution), distribution)

    def score(self, outputs: np.ndarray) -> dict[str, float]:
        """accuracy (% top-1, or % agreement without labels), agreement (%) and KL (nats, mean) of ``outputs``."""
        p = probabilities(outputs, self.distribution)
        pred = p.argmax(1)
        agreement = float((pred == self.probs.argmax(1)).mean() * 100)
        eps = 1e-12
        kl = float(np.mean(np.sum(self.probs * (np.log(self.probs + eps) - np.log(p + eps)), axis=1)))
        accuracy = float((pred == self.labels).mean() * 100) if self.labels is not None else agreement
        return {"accuracy": accuracy, "agreement": agreement, "kl": max(kl, 0.0)}


# ---- the objective -----------------------------------------------------------------------------


def feeds_for(onnx: bytes, images: np.ndarray, batch: int) -> dict[str, np.ndarray]:
    """One batch of real images (repeated if there are fewer than ``batch``) for the model's image input."""
    reps = -(-batch // len(images))
    return {input_name(onnx): np.ascontiguousarray(np.concatenate([images] * reps)[:batch], dtype=np.float32)}


def timed_median(run: Callable[[], Any], min_time_s: float = 0.25, warmup_s: float = 0.05) -> float:
    """Median seconds of one ``run()`` over as many calls as fill about ``min_time_s`` (5 to 5,000 calls).

    A fixed count of calls is wrong both ways here: 20 calls of a 50 µs model are 1 ms of sampling,
    at the mercy of one scheduler hiccup, while 20 calls of a 50 ms model waste a second. The first
    calls also pay one-time costs (weight packing, caches), so ``warmup_s`` of calls run untimed.
    """
    from ..bench.timing import measure

    start = time.perf_counter()
    calls = 0
    while calls < 2 or time.perf_counter() - start < warmup_s:
        run()
        calls += 1
    estimate = (time.perf_counter() - start) / calls
    repeats = int(min(5000, max(5, min_time_s / max(estimate, 1e-7))))
    return measure(run, repeats, 0).median


def time_candidate(onnx: bytes, recipe: Recipe, images: np.ndarray, min_time_s: float = 0.25) -> dict[str, Any]:
    """per_image_ms and throughput_per_s of ``onnx`` run as the recipe says, on a batch of real images."""
    backend = compiled_backend(onnx, recipe, recipe.batch, recipe.threads, for_timing=True, label=recipe.label)
    try:
        feeds = feeds_for(onnx, images, recipe.batch)
        seconds = timed_median(lambda: backend.run(feeds), min_time_s)
    finally:
        backend.close()
    return {"per_image_ms": seconds * 1e3 / recipe.batch, "throughput_per_s": recipe.batch / seconds}


ANALYSIS_DTYPE = {"fp32": "fp32", "fp16": "fp16", "bf16": "fp16", "int8": "int8", "int8-dynamic": "fp32"}


def static_costs(built: Built) -> dict[str, float]:
    """memory_bytes (stored model + peak live activations) and energy_uj per image, from :mod:`jiasu.analysis`.

    The float model is analysed at the recipe's arithmetic precision (bf16 is costed as fp16, the
    table's 16-bit row; dynamic int8 as fp32, since its convolutions stay float).
    """
    from ..analysis.profile import profile
    from ..frontends import load_onnx

    dtype = ANALYSIS_DTYPE[built.recipe.precision]
    p = profile(load_onnx(built.float_onnx, check=False), batch=1, dtype=dtype, machine=False)
    return {
        "memory_bytes": float(len(built.onnx) + p.totals.peak_activation_bytes),
        "energy_uj": p.totals.energy.total_pj * 1e-6,
        "macs": int(p.totals.macs),
        "parameters": int(p.totals.parameters),
    }

