"""Resolve ``zoo:NAME[?key=value&...]`` to an exported model of jiasu's zoo."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import onnx_ir as ir

from .. import zoo
from ..errors import JiasuError
from .torch_module import export_module, load_module

PREFIX = "zoo:"
# Options whose values stay strings: ``weights=2024`` names a tag, not a number.
STRING_OPTIONS = ("weights",)


def parse_zoo_name(source: str) -> tuple[str, dict[str, Any]]:
    """``"zoo:smallcnn?image_size=28&num_classes=10"`` -> ``("smallcnn", {"image_size": 28, "num_classes": 10})``.

    Values become int, float or bool where they read as one, except for
    :data:`STRING_OPTIONS` (``zoo:smallcnn?weights=fashion-mnist`` picks bundled
    trained weights; see ``jiasu.zoo.available_weights``).
    """
    body = source[len(PREFIX) :]
    name, _, query = body.partition("?")
    options: dict[str, Any] = {}
    for key, raw in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        options[key] = raw if key in STRING_OPTIONS else _parse_value(raw)
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


# Options that choose how a zoo model is exported rather than how it is built:
# ``zoo:resnet18?keep_batchnorm=1`` keeps BatchNormalization nodes (see export_module).
EXPORT_OPTIONS = ("keep_batchnorm",)


def _split_options(source: str, options: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``(name, model options, export options)`` from the query and keyword options together."""
    name, parsed = parse_zoo_name(source)
    parsed.update(options)
    export = {k: bool(parsed.pop(k)) for k in EXPORT_OPTIONS if k in parsed}
    return name, parsed, export


def zoo_model_and_input(source: str, batch: int = 1, **options: Any):
    name, parsed, _ = _split_options(source, options)  # export options do not change the module
    return zoo.get(name, **parsed), zoo.example_input(name, batch=batch, **parsed)


def load_zoo(source: str, **options: Any) -> ir.Model:
    module, example = zoo_model_and_input(source, **options)
    return load_module(module, example, **_split_options(source, options)[2])


def export_zoo(source: str, **options: Any) -> bytes:
    module, example = zoo_model_and_input(source, **options)
    return export_module(module, example, **_split_options(source, options)[2])
