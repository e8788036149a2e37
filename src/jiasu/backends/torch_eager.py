"""``torch``: the source PyTorch module in eager mode, under ``torch.inference_mode``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..runtime.options import knob
from .base import Backend, BackendOptions, BenchModel, module_of, torch_args, torch_outputs


@dataclass(frozen=True)
class TorchOptions(BackendOptions):
    channels_last: bool = knob(False, "run 4-D inputs and weights in channels-last (NHWC) memory format")


def set_threads(threads: int) -> None:
    import torch

    if threads:
        torch.set_num_threads(threads)


class TorchEagerBackend(Backend):
    name = "torch"
    description = "PyTorch eager on the source module, inference_mode"
    Options = TorchOptions
    needs_module = True

    def compile(self, model: BenchModel, options: TorchOptions) -> None:
        import torch

        set_threads(options.threads)
        self.model = model
        self.channels_last = options.channels_last
        self.module = module_of(model, self.name).eval()
        if options.channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)

    def _args(self, feeds: Mapping[str, np.ndarray]) -> tuple:
        import torch

        args = torch_args(self.model, feeds)
        if self.channels_last:
            args = tuple(a.contiguous(memory_format=torch.channels_last) if a.dim() == 4 else a for a in args)
        return args

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        import torch

        with torch.inference_mode():
            return torch_outputs(self.model, self.module(*self._args(feeds)))

    def details(self) -> dict[str, Any]:
        import torch

        return {"torch_threads": torch.get_num_threads(), "version": torch.__version__}

    def close(self) -> None:
        if getattr(self, "module", None) is not None and self.channels_last:
            import torch

            self.module.to(memory_format=torch.contiguous_format)  # the module is shared with later configurations
        self.module = None
