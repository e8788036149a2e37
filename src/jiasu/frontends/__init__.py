"""Front ends: everything a user may hand us becomes one onnx-ir ``Model``.

``load`` accepts an ``.onnx`` path, ONNX bytes or ``ModelProto``, an onnx-ir
``Model``, a ``torch.nn.Module`` (with ``example_input``), or ``"zoo:NAME"``
(with zoo options as ``?key=value`` or keyword arguments).
"""

from __future__ import annotations

import os
from typing import Any

import onnx
import onnx_ir as ir

from ..errors import JiasuError
from .onnx_file import load_onnx
from .torch_module import export_module, load_module
from .zoo_name import PREFIX as ZOO_PREFIX
from .zoo_name import export_zoo, load_zoo, parse_zoo_name, zoo_model_and_input


def copy_model(model: ir.Model) -> ir.Model:
    """A deep copy of an onnx-ir model: passes rewrite in place, and a model the caller handed us stays theirs."""
    return ir.serde.deserialize_model(ir.serde.serialize_model(model))


def load(source: Any, example_input: Any = None, **options: Any) -> ir.Model:
    """Load any supported model source as jiasu's in-memory graph (an onnx-ir Model)."""
    if isinstance(source, str) and source.startswith(ZOO_PREFIX):
        return load_zoo(source, **options)
    if options:
        raise JiasuError(f"options {sorted(options)} only apply to zoo models (zoo:NAME)")
    if isinstance(source, (str, os.PathLike, bytes, onnx.ModelProto, ir.Model)):
        return load_onnx(source)
    import torch

    if isinstance(source, torch.nn.Module):
        return load_module(source, example_input)
    raise JiasuError(
        f"cannot load a model from {type(source).__name__}; give an .onnx path, ONNX bytes, a ModelProto, "
        "a torch.nn.Module with example_input, or 'zoo:NAME'"
    )


__all__ = ["export_module", "export_zoo", "load", "load_module", "load_onnx", "parse_zoo_name", "zoo_model_and_input"]
