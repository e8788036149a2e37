"""Resolve ``zoo:NAME[?key=value&...]`` to an exported model of jiasu's zoo."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import onnx_ir as ir

from .. import zoo
from ..errors import JiasuError
from .torch_module import export_module, load_module

PREFIX = "zoo:"


def parse_zoo_name(source: str) -> tuple[str, dict[str, Any]]:
    """``"zoo:smallcnn?image_size=28&num_classes=10"`` -> ``("smallcnn", {"image_size": 28, "num_classes": 10})``."""
    body = source[len(PREFIX) :]
    name, _, query = body.partition("?")
    options: dict[str, Any] = {}
    for key, raw in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        options[key] = _parse_value(raw)
    if query and not options:
        raise JiasuError(f"cannot parse zoo options {query!r}; write them as zoo:NAME?key=value&key=value")
    return name, options


def _parse_value(raw: str) -> Any:
    for cast in (int, float):
        try:
            return cast(raw)
        except ValueError:
            pass
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    return raw


def zoo_model_and_input(source: str, batch: int = 1, **options: Any):
    name, parsed = parse_zoo_name(source)
    parsed.update(options)
    return zoo.get(name, **parsed), zoo.example_input(name, batch=batch, **parsed)


def load_zoo(source: str, **options: Any) -> ir.Model:
    module, example = zoo_model_and_input(source, **options)
    return load_module(module, example)


def export_zoo(source: str, **options: Any) -> bytes:
    module, example = zoo_model_and_input(source, **options)
    return export_module(module, example)
