"""Load an ONNX model (file, bytes or ModelProto) into onnx-ir, with clear errors for bad files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import onnx
import onnx_ir as ir
from google.protobuf.message import DecodeError

from ..errors import ModelLoadError

OnnxSource = Union[str, os.PathLike, bytes, onnx.ModelProto, ir.Model]


def load_onnx(source: OnnxSource, *, check: bool = True) -> ir.Model:
    """Parse ``source`` and return the in-memory graph.

    Raises :class:`ModelLoadError` for a missing file, bytes that are not a
    protobuf model (truncated or corrupt), or a model that fails ``onnx.checker``.
    """
    if isinstance(source, ir.Model):
        return source
    label = "the given bytes"
    if isinstance(source, onnx.ModelProto):
        proto, label = source, "the given ModelProto"
    else:
        data = source
        if not isinstance(source, bytes):
            path = Path(source)
            label = str(path)
            if not path.exists():
                raise ModelLoadError(f"model file not found: {path} (give an .onnx path, a zoo name like zoo:resnet18, or see `jiasu zoo`)")
            if path.is_dir():
                raise ModelLoadError(f"{path} is a directory, not an .onnx file")
            data = path.read_bytes()
        if not data:
            raise ModelLoadError(f"{label} is empty: not an ONNX model")
        proto = onnx.ModelProto()
        try:
            proto.ParseFromString(data)
        except DecodeError as e:
            raise ModelLoadError(
                f"{label} is not a valid ONNX model (protobuf decode failed: {e}); the file is truncated or corrupt — re-export it"
            ) from None
        # Random bytes sometimes decode as a protobuf with unknown fields only; a real model has a graph.
        if not proto.HasField("graph") or (len(proto.graph.node) == 0 and len(proto.graph.output) == 0):
            raise ModelLoadError(f"{label} is not a valid ONNX model: it has no graph; the file is truncated or corrupt — re-export it")
    if check:
        try:
            onnx.checker.check_model(proto)
        except onnx.checker.ValidationError as e:
            first = str(e).strip().splitlines()[0]
            raise ModelLoadError(f"{label} failed ONNX validation: {first}") from None
    return ir.serde.deserialize_model(proto)
