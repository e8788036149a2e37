"""Benchmark backends: one way of running a model per file, registered here and nowhere else.

To add one: write ``backends/<name>.py`` with a :class:`Backend` subclass (see
``base.py`` for the contract; import optional packages inside ``compile``),
import it below and add it to ``_BACKENDS``. The conformance tests in
``tests/backends`` then run it against the reference.
"""

from __future__ import annotations

from ..errors import JiasuError, format_choices
from .base import Backend, BackendOptions, BenchModel
from .jiasu_engine import JiasuBackend
from .onnxruntime import OnnxRuntimeBackend
from .openvino import OpenVinoBackend
from .torch_compile import TorchCompileBackend
from .torch_eager import TorchEagerBackend

_BACKENDS: list[type[Backend]] = [JiasuBackend, OnnxRuntimeBackend, OpenVinoBackend, TorchEagerBackend, TorchCompileBackend]

BACKENDS: dict[str, type[Backend]] = {b.name: b for b in _BACKENDS}

# What `jiasu bench` runs when no backend is named. torch-compile is left out:
# a cold compile takes tens of seconds per batch size; name it to include it.
DEFAULT_BACKENDS: tuple[str, ...] = ("jiasu", "onnxruntime", "openvino", "torch")


def get_backend(name: str) -> type[Backend]:
    """The registered backend called ``name``; an error listing the others if none is."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise JiasuError(
            f"unknown backend {name!r}; available: {format_choices(BACKENDS)}. "
            "To add one, see jiasu/backends/__init__.py."
        ) from None


__all__ = ["BACKENDS", "DEFAULT_BACKENDS", "Backend", "BackendOptions", "BenchModel", "get_backend"]
