"""The contract every benchmark backend implements, and the model it is given.

A backend is one way of running a model: our engine, ONNX Runtime, OpenVINO,
PyTorch eager or compiled. Each lives in ``backends/<name>.py`` as a
:class:`Backend` subclass; ``backends/__init__.py`` lists them. The interface
is small on purpose::

    cls.is_available()          # False when an optional package is missing (see install_hint)
    b = cls()
    b.compile(model, options)   # a BenchModel, specialised to model.batch where the backend likes static shapes
    b.run(feeds)                # {input name: np.ndarray} -> {output name: np.ndarray}
    b.details()                 # what actually took effect (precision, algorithms, providers...)
    b.close()

Options are data: each backend declares an ``Options`` dataclass of
:func:`~jiasu.runtime.options.knob` fields (type from the default, a
description, optionally ``choices``), validated before anything runs.
Optional packages are imported inside ``compile``, never at module import.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar, Mapping, Optional

import numpy as np
import onnx_ir as ir

from ..errors import JiasuError
from ..runtime.options import knob

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class BackendOptions:
    """Options every backend takes. Subclasses add their own knobs."""

    threads: int = knob(0, "intra-op threads; the harness gives every backend the same count (0: the library's default)")

    @classmethod
    def knobs(cls) -> dict[str, dataclasses.Field]:
        return {f.name: f for f in dataclasses.fields(cls)}

    @classmethod
    def describe(cls) -> dict[str, dict[str, Any]]:
        """Per option: default, type, description and (if any) choices, for help texts and reports."""
        out = {}
        for name, f in cls.knobs().items():
            entry = {"default": f.default, "type": type(f.default).__name__, "help": f.metadata["help"]}
            if "choices" in f.metadata:
                entry["choices"] = list(f.metadata["choices"])
            out[name] = entry
        return out

    @classmethod
    def parse(cls, backend: str, raw: Mapping[str, Any]) -> "BackendOptions":
        """Options from ``{name: value}``; string values are converted to the knob's type. Unknown or bad values raise."""
        knobs = cls.knobs()
        values = {}
        for key, value in raw.items():
            if key not in knobs:
                listed = "; ".join(f"{n} ({d['type']}, default {d['default']!r})" for n, d in cls.describe().items())
                raise JiasuError(f"backend {backend!r} has no option {key!r}; its options: {listed}")
            values[key] = _convert(backend, key, value, knobs[key])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _convert(backend: str, key: str, value: Any, f: dataclasses.Field) -> Any:
    default = f.default
    where = f"option {key!r} of backend {backend!r}"
    if isinstance(default, bool):
        if isinstance(value, bool):
            out = value
        elif str(value).lower() in _TRUE | _FALSE:
            out = str(value).lower() in _TRUE
        else:
            raise JiasuError(f"{where} must be true or false, got {value!r}")
    elif isinstance(default, (int, float)):
        try:
            out = type(default)(value)
        except (TypeError, ValueError):
            raise JiasuError(f"{where} must be {'an integer' if isinstance(default, int) else 'a number'}, got {value!r}") from None
        if out < 0:
            raise JiasuError(f"{where} must be >= 0, got {value!r}")
    else:
        out = str(value)
    choices = f.metadata.get("choices")
    if choices is not None and out not in choices:
        raise JiasuError(f"{where} must be one of {', '.join(map(str, choices))}; got {value!r}")
    return out


class BenchModel:
    """One model as every backend needs it: ONNX bytes, and the source torch module where there is one.

    ``batch`` is the batch size the harness will feed (``None``: not known);
    backends that compile for static shapes specialise to it. ``with_batch``
    makes a copy for another batch size; the ONNX bytes are shared.
    """

    def __init__(self, source: str, onnx: bytes, module: Any = None, batch: Optional[int] = None):
        self.source = source
        self.onnx = onnx
        self.module = module
        self.batch = batch

    @classmethod
    def load(cls, source: Any, example_input: Any = None) -> "BenchModel":
        """From ``"zoo:NAME[?opts]"`` (ONNX and module), an ``.onnx`` path (ONNX only) or an ``nn.Module`` with ``example_input``."""
        from ..frontends import ZOO_PREFIX, export_module, zoo_model_and_input

        if isinstance(source, str) and source.startswith(ZOO_PREFIX):
            module, example = zoo_model_and_input(source)
            return cls(source, export_module(module, example), module)
        if isinstance(source, (str, bytes)) or hasattr(source, "__fspath__"):
            from ..frontends import load_onnx

            model = load_onnx(source)
            return cls(str(source) if not isinstance(source, bytes) else "<onnx bytes>", ir.to_proto(model).SerializeToString())
        import torch

        if isinstance(source, torch.nn.Module):
            if example_input is None:
                raise JiasuError("benchmarking a torch.nn.Module needs example_input (a batch of one, say)")
            return cls(type(source).__name__, export_module(source, example_input), source)
        raise JiasuError(f"cannot benchmark a {type(source).__name__}; give zoo:NAME, an .onnx path, or an nn.Module with example_input")

    def with_batch(self, batch: int) -> "BenchModel":
        copy = BenchModel(self.source, self.onnx, self.module, batch)
        if "ir" in self.__dict__:
            copy.__dict__["ir"] = self.__dict__["ir"]
        return copy

    @cached_property
    def ir(self) -> ir.Model:
        from ..frontends import load_onnx

        return load_onnx(self.onnx, check=False)

    @property
    def input_names(self) -> list[str]:
        from ..frontends.inputs import model_inputs

        return [v.name for v in model_inputs(self.ir)]

    @property
    def output_names(self) -> list[str]:
        return [v.name for v in self.ir.graph.outputs]

    def __getstate__(self) -> dict:
        # The parsed graph is a cache: ship the bytes to worker processes, not the graph.
        state = dict(self.__dict__)
        state.pop("ir", None)
        return state

    def __repr__(self) -> str:
        return f"BenchModel({self.source!r}, {len(self.onnx):,} ONNX bytes, module={'yes' if self.module is not None else 'no'}, batch={self.batch})"


class Backend:
    """Base class of every backend; see the module docstring for the contract.

    Subclasses set ``name``, ``description``, ``Options``, and where they need
    optional packages ``requires`` (importable module names) and
    ``install_hint`` (the command that installs them). A backend that runs the
    source torch module rather than the ONNX graph sets ``needs_module``.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    requires: ClassVar[tuple[str, ...]] = ()
    install_hint: ClassVar[str] = ""
    needs_module: ClassVar[bool] = False

    @classmethod
    def missing(cls) -> list[str]:
        """Required modules that are not importable."""
        return [m for m in cls.requires if importlib.util.find_spec(m) is None]

    @classmethod
    def is_available(cls) -> bool:
        return not cls.missing()

    @classmethod
    def unavailable_reason(cls) -> Optional[str]:
        """Why the backend cannot run here and how to fix it; None when it can."""
        missing = cls.missing()
        if not missing:
            return None
        s = "s" if len(missing) > 1 else ""
        return f"backend {cls.name!r} needs the Python package{s} {', '.join(missing)}; install with: {cls.install_hint}"

    def compile(self, model: BenchModel, options: BackendOptions) -> None:
        raise NotImplementedError(f"{type(self).__name__}.compile")

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        raise NotImplementedError(f"{type(self).__name__}.run")

    def details(self) -> dict[str, Any]:
        """Settings that took effect, as read back from the library (recorded with every result)."""
        return {}

    def close(self) -> None:
        """Release sessions, compiled code and caches. Safe to call twice."""


def module_of(model: BenchModel, backend: str) -> Any:
    """The source torch module, or an error saying why a torch backend cannot run this model."""
    if model.module is None:
        raise JiasuError(
            f"backend {backend!r} runs the source torch module, and {model.source} has none (it is plain ONNX); "
            "benchmark a zoo:NAME model, or BenchModel.load(module, example_input) from Python"
        )
    return model.module


def torch_args(model: BenchModel, feeds: Mapping[str, np.ndarray]) -> tuple:
    """Feeds as positional torch tensors in the ONNX input order (zero-copy where numpy allows)."""
    import torch

    return tuple(torch.from_numpy(np.ascontiguousarray(feeds[name])) for name in model.input_names)


def torch_outputs(model: BenchModel, result: Any) -> dict[str, np.ndarray]:
    """A module's output (a tensor or a sequence of tensors) named after the ONNX outputs."""
    results = (result,) if not isinstance(result, (tuple, list)) else tuple(result)
    names = model.output_names
    if len(results) != len(names):
        raise JiasuError(f"the module returned {len(results)} outputs, but the ONNX model has {len(names)}: {', '.join(names)}")
    return {name: r.detach().cpu().numpy() for name, r in zip(names, results)}
