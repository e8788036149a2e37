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
    cuda_graph: bool = knob(
        True,
        "on CUDA, capture the forward in a CUDA graph on the first run of each input layout and replay it on the runs "
        "after (see jiasu.runtime.cuda_graph); a layout whose kernels cannot be captured runs without one, with a "
        "warning that names the node. No effect on the CPU",
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
        check_device(self.device)

    @classmethod
    def describe(cls) -> dict[str, str]:
        return {f.name: f.metadata["help"] for f in dataclasses.fields(cls)}


def check_device(device: str) -> None:
    """Refuse a device the engine cannot run on, saying why and what to use instead."""
    import torch

    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        raise JiasuError(f"unknown device {device!r}; jiasu's engine runs on cpu, cuda or cuda:N")
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch was built without CUDA" if torch.version.cuda is None else "torch sees no CUDA device"
            raise JiasuError(f"device {device!r} is not available: {why} (torch {torch.__version__}); use device 'cpu'")
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise JiasuError(f"device {device!r} does not exist: torch sees {count} CUDA device{'s' * (count != 1)}, cuda:0 to cuda:{count - 1}")
