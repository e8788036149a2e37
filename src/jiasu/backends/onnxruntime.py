"""``onnxruntime``: ONNX Runtime's CPU execution provider, with its session options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..runtime.options import knob
from ..runtime.reference import DISABLED_ORT_OPTIMIZERS
from .base import Backend, BackendOptions, BenchModel

_LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC", "extended": "ORT_ENABLE_EXTENDED", "all": "ORT_ENABLE_ALL"}
_MODES = {"sequential": "ORT_SEQUENTIAL", "parallel": "ORT_PARALLEL"}


@dataclass(frozen=True)
class OnnxRuntimeOptions(BackendOptions):
    graph_optimization_level: str = knob("all", "graph optimizations before running (fusions, constant folding, layout)", choices=tuple(_LEVELS))
    inter_op_threads: int = knob(1, "threads running independent nodes concurrently (used in parallel execution mode)")
    execution_mode: str = knob("sequential", "run nodes one at a time, or independent branches in parallel", choices=tuple(_MODES))
    spinning: bool = knob(True, "intra-op worker threads spin-wait between nodes (ORT's default; lower latency, burns CPU)")
    # Same rewrites off as in the reference: Pad_Fusion gives wrong results on yolov3_tiny (see runtime/reference.py).
    # '+' separates names because ',' already separates options in a configuration spec.
    disabled_optimizers: str = knob(
        "+".join(DISABLED_ORT_OPTIMIZERS), "graph rewrites switched off, separated by '+' ('none': none)"
    )


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    description = "ONNX Runtime, CPU execution provider"
    Options = OnnxRuntimeOptions
    requires = ("onnxruntime",)
    install_hint = "pip install onnxruntime"

    def compile(self, model: BenchModel, options: OnnxRuntimeOptions) -> None:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = getattr(ort.GraphOptimizationLevel, _LEVELS[options.graph_optimization_level])
        so.execution_mode = getattr(ort.ExecutionMode, _MODES[options.execution_mode])
        so.intra_op_num_threads = options.threads
        so.inter_op_num_threads = options.inter_op_threads
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if options.spinning else "0")
        disabled = [] if options.disabled_optimizers == "none" else options.disabled_optimizers.split("+")
        self.session = ort.InferenceSession(model.onnx, so, providers=["CPUExecutionProvider"], disabled_optimizers=disabled)
        self.disabled = disabled
        self.output_names = [o.name for o in self.session.get_outputs()]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self.output_names, self.session.run(self.output_names, dict(feeds))))

    def details(self) -> dict[str, Any]:
        import onnxruntime as ort

        return {"providers": self.session.get_providers(), "disabled_optimizers": self.disabled, "version": ort.__version__}

    def close(self) -> None:
        self.session = None
