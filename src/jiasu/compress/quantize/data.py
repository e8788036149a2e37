"""Calibration data: whatever the user has, as a list of feed dicts for the model's one image input.

``calibration_feeds(model, data)`` accepts a :class:`jiasu.data.ArrayDataset`, a numpy array (N, ...),
a ``jiasu.data.load_data`` spec ("fashion-mnist", "fashion-mnist-subset", an image folder, a .npy/.npz
file), or an iterable of ready feed dicts. Batches are cut to ``batch_size``; ``limit`` caps the samples.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Mapping, Optional

import numpy as np
import onnx_ir as ir

from ...errors import JiasuError


def _input_name(model: ir.Model) -> str:
    init = set(model.graph.initializers)
    names = [v.name for v in model.graph.inputs if v.name not in init]
    if len(names) != 1:
        raise JiasuError(
            f"calibration from images needs a model with one input, this one has {len(names)} ({', '.join(names)}); "
            "pass the calibration data as an iterable of feed dicts instead"
        )
    return names[0]


def _images(data: Any, model: ir.Model, limit: Optional[int]) -> np.ndarray:
    from ...data import ArrayDataset, load_data

    if isinstance(data, (str, os.PathLike)):
        spec = model.graph.inputs[0].shape
        channels = spec[1] if spec is not None and len(spec) == 4 and isinstance(spec[1], int) else 3
        size = tuple(spec[2:]) if spec is not None and len(spec) == 4 and all(isinstance(d, int) for d in spec[2:]) else None
        data = load_data(data, split="train", limit=limit, size=size, channels=channels)
    if isinstance(data, ArrayDataset):
        data = data.numpy()[0]
    array = np.asarray(data, dtype=np.float32)
    return array[:limit] if limit is not None else array


def calibration_feeds(model: ir.Model, data: Any, *, batch_size: int = 32, limit: Optional[int] = 512) -> list[dict[str, np.ndarray]]:
    """Feed dicts for calibration (see the module docstring); at least one, or a JiasuError naming the data."""
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], Mapping):
        return [dict(f) for f in data]
    if not isinstance(data, (str, os.PathLike, np.ndarray)) and isinstance(data, Iterable) and not hasattr(data, "numpy"):
        feeds = [dict(f) for f in data]
        if feeds:
            return feeds
    name = _input_name(model)
    images = _images(data, model, limit)
    if len(images) == 0:
        raise JiasuError("calibration data is empty; give at least one image (a few hundred is typical)")
    return [{name: images[i : i + batch_size]} for i in range(0, len(images), batch_size)]
