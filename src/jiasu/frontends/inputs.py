"""Example feeds for a model: random data of the declared shapes and types."""

from __future__ import annotations

from typing import Optional

import numpy as np
import onnx_ir as ir

from ..errors import InputError
from ..kernels.base import TORCH_DTYPES

_NUMPY = {
    ir.DataType.FLOAT: np.float32,
    ir.DataType.DOUBLE: np.float64,
    ir.DataType.FLOAT16: np.float16,
    ir.DataType.INT8: np.int8,
    ir.DataType.UINT8: np.uint8,
    ir.DataType.INT16: np.int16,
    ir.DataType.INT32: np.int32,
    ir.DataType.INT64: np.int64,
    ir.DataType.BOOL: np.bool_,
}


def model_inputs(model: ir.Model) -> list[ir.Value]:
    """The inputs a caller must feed (graph inputs that are not initializers)."""
    inits = set(model.graph.initializers)
    return [v for v in model.graph.inputs if v.name not in inits]


def concrete_shape(value: ir.Value, batch: int) -> tuple[int, ...]:
    """Declared shape with a symbolic leading dim set to ``batch``; other symbolic dims are an error."""
    if value.shape is None:
        raise InputError(f"input {value.name!r} has no declared shape; pass the data explicitly (--input {value.name}=file.npy)")
    dims = []
    for axis, d in enumerate(value.shape):
        if isinstance(d, int):
            dims.append(d)
        elif axis == 0:
            dims.append(batch)
        else:
            raise InputError(
                f"input {value.name!r} has a symbolic dim {d.value!r} at axis {axis}; only the batch axis (0) may be "
                f"symbolic for generated inputs: pass the data explicitly (--input {value.name}=file.npy)"
            )
    return tuple(dims)


def _index_bound(model: ir.Model, value: ir.Value) -> Optional[int]:
    """If ``value`` indexes a Gather (an embedding lookup), the size of the gathered axis."""
    bounds = []
    for user, index in value.uses():
        if user.op_type == "Gather" and index == 1:
            data = user.inputs[0]
            axis = user.attributes.get("axis")
            axis = axis.value if axis is not None else 0
            if data.shape is not None and isinstance(data.shape[axis], int):
                bounds.append(data.shape[axis])
    return min(bounds) if bounds else None


def example_feeds(model: ir.Model, batch: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    """Random feeds for every model input: floats uniform in [0, 1) (image-like), integers valid as indices."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for value in model_inputs(model):
        shape = concrete_shape(value, batch)
        if value.dtype not in _NUMPY or value.dtype not in TORCH_DTYPES:
            raise InputError(f"input {value.name!r} has element type {value.dtype}; jiasu cannot generate data for it")
        dtype = _NUMPY[value.dtype]
        if np.issubdtype(dtype, np.floating):
            feeds[value.name] = rng.random(shape, dtype=np.float64).astype(dtype)
        elif dtype == np.bool_:
            feeds[value.name] = rng.random(shape) < 0.5
        else:
            high = _index_bound(model, value) or 2
            feeds[value.name] = rng.integers(0, high, size=shape).astype(dtype)
    return feeds
