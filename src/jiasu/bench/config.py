"""Configurations: a backend name plus the options it runs with, written as text.

Syntax (the CLI's ``--backends`` and ``--config``, and the labels in results)::

    onnxruntime                                   the backend with its default options
    jiasu:conv_algorithm=winograd                 BACKEND:KEY=VALUE[,KEY=VALUE...]
    onnxruntime:graph_optimization_level=basic,spinning=false
    jiasu:conv_algorithm=direct|im2col|fft        A|B|C sweeps a knob: one configuration per value
    jiasu[conv_algorithm=winograd]                the label form results are printed in is accepted too

Only the options written are part of the label; the rest keep their defaults,
and every result records the full resolved set. ``threads`` is set for all
configurations by the harness, unless a configuration sets it itself.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from ..backends import get_backend
from ..backends.base import Backend, BackendOptions
from ..errors import JiasuError

_LABEL = re.compile(r"^(?P<backend>[\w.-]+)\[(?P<options>.*)\]$")


@dataclass(frozen=True)
class Configuration:
    """One backend and the options given for it explicitly (in the order written)."""

    backend: str
    options: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        if not self.options:
            return self.backend
        return f"{self.backend}[{','.join(f'{k}={_text(v)}' for k, v in self.options)}]"

    def resolve(self, threads: int, cls: Optional[type[Backend]] = None) -> BackendOptions:
        """The backend's full options: the explicit ones, ``threads`` unless set explicitly, defaults for the rest.

        ``cls`` is the backend class when the caller has it: an isolated worker
        process should not depend on the registry being the same as its parent's.
        """
        cls = cls or get_backend(self.backend)
        return cls.Options.parse(self.backend, {"threads": threads, **dict(self.options)})

    def __str__(self) -> str:
        return self.label


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def parse_configuration(spec: str) -> list[Configuration]:
    """The configurations one spec stands for (several where a value is written ``A|B``); validated against the backend."""
    spec = spec.strip()
    m = _LABEL.match(spec)
    if m:
        backend, body = m["backend"], m["options"]
    else:
        backend, _, body = spec.partition(":")
    backend = backend.strip()
    if not backend:
        raise JiasuError(f"empty backend name in configuration {spec!r}; write BACKEND or BACKEND:KEY=VALUE[,KEY=VALUE]")
    cls = get_backend(backend)
    keys, choices = [], []
    for item in filter(None, (part.strip() for part in body.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise JiasuError(f"configuration {spec!r}: options must look like KEY=VALUE, got {item!r}")
        key = key.strip()
        if key in keys:
            raise JiasuError(f"configuration {spec!r} sets {key!r} twice; to sweep it write {key}=A|B")
        keys.append(key)
        choices.append([v.strip() for v in value.split("|")])
    configs = []
    for values in itertools.product(*choices):
        raw = dict(zip(keys, values))
        parsed = cls.Options.parse(backend, raw)  # validates names, types and choices now, before anything runs
        configs.append(Configuration(backend, tuple((k, getattr(parsed, k)) for k in keys)))
    return configs


def parse_configurations(specs: Iterable[str]) -> list[Configuration]:
    """All configurations of ``specs``, in order, without duplicates."""
    seen: dict[str, Configuration] = {}
    for spec in specs:
        for config in parse_configuration(spec):
            seen.setdefault(config.label, config)
    return list(seen.values())
