"""``torch-compile``: the source module through ``torch.compile`` (inductor), optionally with freezing.

Compilation is lazy: ``compile`` wraps the module, and the first ``run`` at a
new shape compiles it (20-60 s cold on a small CPU). The harness times that
first run separately (``first_run_s``); it never enters the per-image time.
Every (configuration, batch) starts from ``torch._dynamo.reset()``, so each
batch size gets its own static-shape compilation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..runtime.options import knob
from .base import Backend, BenchModel, module_of, torch_args, torch_outputs
from .torch_eager import TorchOptions, set_threads


@dataclass(frozen=True)
class TorchCompileOptions(TorchOptions):
    mode: str = knob("default", "torch.compile mode", choices=("default", "max-autotune-no-cudagraphs", "reduce-overhead"))
    freezing: bool = knob(True, "inductor freezing: fold weights into the graph as constants (inference only)")
    dynamic: bool = knob(False, "compile for dynamic shapes instead of the benchmarked batch")


class TorchCompileBackend(Backend):
    name = "torch-compile"
    description = "PyTorch torch.compile (inductor) on the source module, no_grad"
    Options = TorchCompileOptions
    needs_module = True

    @classmethod
    def unavailable_reason(cls):
        import shutil

        if shutil.which("g++") is None and shutil.which("c++") is None:
            return "backend 'torch-compile' needs a C++ compiler for inductor's CPU code; install one (apt-get install g++)"
        return super().unavailable_reason()

    @classmethod
    def is_available(cls) -> bool:
        return cls.unavailable_reason() is None

    def compile(self, model: BenchModel, options: TorchCompileOptions) -> None:
        import torch
        import torch._dynamo
        import torch._inductor.config as inductor_config

        set_threads(options.threads)
        torch._dynamo.reset()
        self._saved_freezing = inductor_config.freezing
        inductor_config.freezing = options.freezing
        self.options = options
        self.model = model
        module = module_of(model, self.name).eval()
        if options.channels_last:
            module = module.to(memory_format=torch.channels_last)
        self.source_module = module
        self.compiled = torch.compile(module, mode=options.mode, dynamic=options.dynamic, fullgraph=False)

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        args = torch_args(self.model, feeds)
        if self.options.channels_last:
            args = tuple(a.contiguous(memory_format=torch.channels_last) if a.dim() == 4 else a for a in args)
        # Freezing needs no_grad (not inference_mode, whose tensors dynamo guards on separately).
        with torch.no_grad():
            return torch_outputs(self.model, self.compiled(*args))

    def details(self) -> dict[str, Any]:
        import torch

        return {"torch_threads": torch.get_num_threads(), "version": torch.__version__, "backend": "inductor"}

    def close(self) -> None:
        if getattr(self, "compiled", None) is None:
            return
        import torch
        import torch._dynamo
        import torch._inductor.config as inductor_config

        inductor_config.freezing = self._saved_freezing
        if self.options.channels_last:
            self.source_module.to(memory_format=torch.contiguous_format)
        self.compiled = self.source_module = None
        torch._dynamo.reset()
