"""``jiasu``: our engine (jiasu.runtime.Engine) with a choice of convolution algorithm."""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..kernels.conv import CONV_ALGORITHMS
from ..runtime.options import knob
from .base import Backend, BackendOptions, BenchModel


@dataclass(frozen=True)
class JiasuOptions(BackendOptions):
    conv_algorithm: str = knob(
        "direct",
        "convolution algorithm for every Conv node; nodes where it does not apply fall back to direct (see details)",
        choices=tuple(CONV_ALGORITHMS),
    )


class JiasuBackend(Backend):
    name = "jiasu"
    description = "jiasu's engine: our kernels on torch tensors, CPU"
    Options = JiasuOptions

    def compile(self, model: BenchModel, options: JiasuOptions) -> None:
        from ..runtime import Engine, EngineOptions

        self.engine = Engine(model.ir, EngineOptions(conv_algorithm=options.conv_algorithm, threads=options.threads))

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.engine.run_numpy(feeds)

    def details(self) -> dict[str, Any]:
        import torch

        report = self.engine.algorithm_report()
        fallbacks = collections.Counter(c.reason for c in report if c.reason)
        return {
            "conv_algorithms_used": dict(collections.Counter(c.choice for c in report)),
            "fallbacks": dict(fallbacks),
            "torch_threads": torch.get_num_threads(),
        }

    def close(self) -> None:
        self.engine = None
