"""Energy estimate from a per-operation cost table (pJ), by default Horowitz's 45 nm figures.

M. Horowitz, "Computing's energy problem (and what we can do about it)",
ISSCC 2014: at 45 nm and 0.9 V an int8 add costs 0.03 pJ, an fp32 multiply
3.7 pJ, a 32-bit SRAM read 5 pJ and a 32-bit DRAM read 640 pJ.

Per node, for execution dtype ``d`` with costs ``mul``, ``add``,
``accumulate`` and ``special`` taken from ``dtypes[d]``::

    compute = macs * (mul + accumulate) + adds * add + muls * mul + special * special
    memory  = sram_words * sram + dram_words * dram

``accumulate`` is the add that sums products: INT8 inference accumulates in
int32 (0.1 pJ), so an INT8 MAC costs 0.2 + 0.1 pJ against 3.7 + 0.9 pJ in FP32.
Transcendental functions cost one multiply (the table has no entry for them,
so this is a floor). Words come from the memory-access model of
:mod:`jiasu.analysis.memory`.

A table file (JSON, or YAML when PyYAML is installed) overrides any part of
:data:`DEFAULT_TABLE`; sections are merged key by key, unknown keys are errors::

    {"name": "my 7 nm guess", "ops_pj": {"fp32_mul": 1.1}, "memory_pj_per_word": {"dram": 100}}
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Union

from ..errors import JiasuError
from .memory import Traffic
from .rules import Ops

DEFAULT_TABLE: dict[str, Any] = {
    "name": "Horowitz, ISSCC 2014, 45 nm 0.9 V",
    "ops_pj": {
        "int8_add": 0.03,
        "int8_mul": 0.2,
        "fp16_add": 0.4,
        "fp16_mul": 1.0,
        "int32_add": 0.1,
        "fp32_add": 0.9,
        "int32_mul": 3.1,
        "fp32_mul": 3.7,
    },
    "memory_pj_per_word": {"sram": 5.0, "dram": 640.0},  # one 32-bit access
    "dtypes": {
        "fp32": {"mul": "fp32_mul", "add": "fp32_add", "accumulate": "fp32_add", "special": "fp32_mul"},
        "fp16": {"mul": "fp16_mul", "add": "fp16_add", "accumulate": "fp16_add", "special": "fp16_mul"},
        "int8": {"mul": "int8_mul", "add": "int8_add", "accumulate": "int32_add", "special": "int8_mul"},
    },
}

_ROLES = ("mul", "add", "accumulate", "special")


@dataclass(frozen=True)
class Energy:
    """Picojoules of one node or of the model."""

    compute_pj: float = 0.0
    sram_pj: float = 0.0
    dram_pj: float = 0.0

    @property
    def memory_pj(self) -> float:
        return self.sram_pj + self.dram_pj

    @property
    def total_pj(self) -> float:
        return self.compute_pj + self.memory_pj

    def __add__(self, other: "Energy") -> "Energy":
        return Energy(self.compute_pj + other.compute_pj, self.sram_pj + other.sram_pj, self.dram_pj + other.dram_pj)

    def to_dict(self) -> dict:
        return {"compute_pj": self.compute_pj, "sram_pj": self.sram_pj, "dram_pj": self.dram_pj, "total_pj": self.total_pj}


@dataclass(frozen=True)
class EnergyTable:
    """Op and memory-access costs in pJ, and which op costs each execution dtype uses."""

    name: str
    ops_pj: Mapping[str, float]
    memory_pj_per_word: Mapping[str, float]
    dtypes: Mapping[str, Mapping[str, str]]

    def cost(self, dtype: str, role: str) -> float:
        """pJ of one ``role`` (mul, add, accumulate, special) in ``dtype``."""
        return self.ops_pj[self.dtypes[dtype][role]]

    def mac_pj(self, dtype: str) -> float:
        return self.cost(dtype, "mul") + self.cost(dtype, "accumulate")

    def node_energy(self, ops: Ops, traffic: Traffic, dtype: str) -> Energy:
        c = {role: self.cost(dtype, role) for role in _ROLES}
        compute = ops.macs * (c["mul"] + c["accumulate"]) + ops.adds * c["add"] + ops.muls * c["mul"] + ops.special * c["special"]
        mem = self.memory_pj_per_word
        return Energy(compute, traffic.sram_words * mem["sram"], traffic.dram_words * mem["dram"])

    def to_dict(self) -> dict:
        return {"name": self.name, "ops_pj": dict(self.ops_pj), "memory_pj_per_word": dict(self.memory_pj_per_word), "dtypes": {k: dict(v) for k, v in self.dtypes.items()}}


def energy_table(source: Union[None, str, Path, Mapping[str, Any]] = None) -> EnergyTable:
    """The default table, updated with ``source`` (a JSON/YAML file path or a dict); validated."""
    data = copy.deepcopy(DEFAULT_TABLE)
    label = "the energy table"
    if source is not None:
        if isinstance(source, Mapping):
            override = source
        else:
            label = str(source)
            override = _read(Path(source))
        _merge(data, override, label)
    _validate(data, label)
    return EnergyTable(data["name"], data["ops_pj"], data["memory_pj_per_word"], data["dtypes"])


def _read(path: Path) -> Mapping[str, Any]:
    if not path.is_file():
        raise JiasuError(f"energy table not found: {path} (give a JSON or YAML file; see docs/profile.md for the format)")
    text = path.read_text()
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise JiasuError(f"reading {path} needs PyYAML (pip install pyyaml); or write the table as JSON") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise JiasuError(f"{path} is not valid YAML: {e}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise JiasuError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(data, Mapping):
        raise JiasuError(f"{path} must hold a mapping with keys {', '.join(DEFAULT_TABLE)}, got {type(data).__name__}")
    return data


def _merge(data: dict, override: Mapping[str, Any], label: str) -> None:
    for key, value in override.items():
        if key not in DEFAULT_TABLE:
            raise JiasuError(f"unknown key {key!r} in {label}; known keys: {', '.join(DEFAULT_TABLE)}")
        if key == "name":
            data["name"] = str(value)
            continue
        if not isinstance(value, Mapping):
            raise JiasuError(f"{key!r} in {label} must be a mapping, got {value!r}")
        for k, v in value.items():
            data[key][k] = dict(data[key].get(k, {}), **v) if key == "dtypes" and isinstance(v, Mapping) else v


def _validate(data: dict, label: str) -> None:
    for section in ("ops_pj", "memory_pj_per_word"):
        for k, v in data[section].items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
                raise JiasuError(f"{section}.{k} in {label} must be a non-negative number of pJ, got {v!r}")
    for k in ("sram", "dram"):
        if k not in data["memory_pj_per_word"]:
            raise JiasuError(f"memory_pj_per_word in {label} needs {k!r}")
    for dtype, roles in data["dtypes"].items():
        for role in _ROLES:
            op = roles.get(role) if isinstance(roles, Mapping) else None
            if op not in data["ops_pj"]:
                raise JiasuError(
                    f"dtypes.{dtype}.{role} in {label} must name an entry of ops_pj ({', '.join(data['ops_pj'])}), got {op!r}"
                )

