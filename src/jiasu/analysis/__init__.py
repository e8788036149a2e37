"""Analysis: where a model's cost is, before anything runs.

``profile(model, batch, dtype)`` counts parameters, MACs and FLOPs per node
(rules in :mod:`.rules`), activation memory and bytes moved (:mod:`.memory`),
estimates energy (:mod:`.energy`) and places every node on this machine's
roofline (:mod:`.roofline`). :mod:`.plots` and :mod:`.report` draw and render it.
"""

from .energy import DEFAULT_TABLE, Energy, EnergyTable, energy_table
from .graph import Prepared, prepare
from .memory import DEFAULT_CACHE_BYTES
from .profile import DTYPES, NodeProfile, PlanView, Profile, Totals, profile
from .roofline import Machine, machine, measure
from .rules import RULES, Ops

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "DEFAULT_TABLE",
    "DTYPES",
    "Energy",
    "EnergyTable",
    "Machine",
    "NodeProfile",
    "Ops",
    "PlanView",
    "Prepared",
    "Profile",
    "RULES",
    "Totals",
    "energy_table",
    "machine",
    "measure",
    "prepare",
    "profile",
]
