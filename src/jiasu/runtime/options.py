"""Engine options: each knob declared once, with type, default and description."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..errors import JiasuError


def knob(default: Any, help: str, **kw: Any) -> Any:
    """A dataclass field carrying its description (shown by the CLI and reports)."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class EngineOptions:
    device: str = knob("cpu", "torch device the engine runs on: cpu, cuda, cuda:1 ...")
    conv_algorithm: str = knob(
        "auto",
        "convolution algorithm preferred for every Conv node (auto: the planner's heuristic, jiasu.plan.heuristic); "
        "where it does not apply the node falls back to direct",
    )
    conv_algorithms: dict = knob({}, "per-node algorithm, {node name: algorithm}; an algorithm that does not apply is an error")
    threads: int = knob(0, "torch intra-op threads, set when the engine is built (process-wide in torch: the last engine built, or torch.set_num_threads, wins); 0 leaves torch's setting alone")
    keep_freed_memory: bool = knob(
        True,
        "when the engine is built, set glibc's malloc to keep freed memory in the process, as an arena does "
        "(process-wide and lasting; see jiasu.runtime.allocator): kernels' temporaries are then not page-faulted in on every run",
    )
    native_chains: bool = knob(
        True,
        "run consecutive steps whose kernels are C calls as one call into C, with their intermediate values in buffers "
        "kept per input shape (see jiasu.runtime.chain); off: every step through Python",
    )

    def replace(self, **changes: Any) -> "EngineOptions":
        known = {f.name for f in dataclasses.fields(self)}
        bad = sorted(set(changes) - known)
        if bad:
            raise JiasuError(f"unknown engine option {bad[0]!r}; options: {', '.join(sorted(known))}")
        return dataclasses.replace(self, **changes)

    def validate(self) -> None:
        from ..kernels.conv import get_algorithm

        if self.conv_algorithm != "auto":
            get_algorithm(self.conv_algorithm)
        for algo in self.conv_algorithms.values():
            get_algorithm(algo)
        if self.threads < 0:
            raise JiasuError(f"threads must be >= 0, got {self.threads}")

    @classmethod
    def describe(cls) -> dict[str, str]:
        return {f.name: f.metadata["help"] for f in dataclasses.fields(cls)}
