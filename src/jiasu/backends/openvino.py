"""``openvino``: Intel OpenVINO's CPU plugin (an optional extra: ``pip install 'jiasu[openvino]'``).

The precision is set explicitly (f32 by default): on CPUs with AVX512-BF16 or
AMX, OpenVINO otherwise picks bf16 on its own, which is a different numerical
contract and, on AVX512-BF16 without AMX, slower. ``details`` reads the
precision, hint, threads and streams back from the compiled model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..runtime.options import knob
from .base import Backend, BackendOptions, BenchModel

_HINTS = {"latency": "LATENCY", "throughput": "THROUGHPUT"}


@dataclass(frozen=True)
class OpenVinoOptions(BackendOptions):
    hint: str = knob("latency", "PERFORMANCE_HINT: latency (one stream) or throughput (several streams)", choices=tuple(_HINTS))
    precision: str = knob("f32", "INFERENCE_PRECISION_HINT; f32 unless you accept bf16/f16 rounding", choices=("f32", "bf16", "f16"))
    static_shapes: bool = knob(True, "reshape the model to the benchmarked batch before compiling (static shapes)")


class OpenVinoBackend(Backend):
    name = "openvino"
    description = "OpenVINO, CPU plugin"
    Options = OpenVinoOptions
    requires = ("openvino",)
    install_hint = "pip install 'jiasu[openvino]'  (or: pip install openvino)"

    def compile(self, model: BenchModel, options: OpenVinoOptions) -> None:
        import openvino as ov

        core = ov.Core()
        ov_model = core.read_model(model=model.onnx)
        if options.static_shapes and model.batch is not None:
            ov_model.reshape({p: [model.batch, *list(p.get_partial_shape())[1:]] for p in ov_model.inputs})
        config = {"INFERENCE_PRECISION_HINT": options.precision, "PERFORMANCE_HINT": _HINTS[options.hint]}
        if options.threads:
            config["INFERENCE_NUM_THREADS"] = options.threads
        self.compiled = core.compile_model(ov_model, "CPU", config)
        self.request = self.compiled.create_infer_request()
        self.input_names = [p.get_any_name() for p in self.compiled.inputs]
        self.output_names = [p.get_any_name() for p in self.compiled.outputs]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = self.request.infer({name: feeds[name] for name in self.input_names})
        # infer() reuses its output buffers on the next call: copy what we hand out.
        return {name: np.array(results[port]) for name, port in zip(self.output_names, self.compiled.outputs)}

    def details(self) -> dict[str, Any]:
        import openvino as ov

        read = {}
        for key in ("INFERENCE_PRECISION_HINT", "PERFORMANCE_HINT", "INFERENCE_NUM_THREADS", "NUM_STREAMS"):
            try:
                value = self.compiled.get_property(key)
                read[key] = value.to_string() if hasattr(value, "to_string") else str(value)  # ov.Type -> "f32"
            except RuntimeError:  # a property this plugin version does not report
                pass
        return {"compiled_properties": read, "version": ov.__version__}

    def close(self) -> None:
        self.request = None
        self.compiled = None
