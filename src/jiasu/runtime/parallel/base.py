"""The runner contract every strategy implements, and the two baselines: one thread, and torch's own threads.

A runner is built once per engine (``make_runner``) and then called like the
engine: ``runner.run(feeds) -> {output name: tensor}``. Every strategy is
exact: its outputs equal the sequential engine's within 1e-5 (tests hold them
to it). A strategy that cannot apply to a model or a batch raises
:class:`StrategyError` naming why and what to use instead; ``choose_strategy``
records that as the candidate's result rather than failing.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch

from ...errors import JiasuError
from ...kernels.threads import torch_threads
from ._graph import GraphInfo, available_cores


class StrategyError(JiasuError):
    """A multi-core strategy does not apply to this model, batch or option."""


class Runner:
    """Base class. ``name`` is the registry key; ``describe()`` is what plan files and reports show."""

    name = ""

    def __init__(self, engine, workers: int = 2, info: GraphInfo | None = None, **options: Any):
        if workers < 1:
            raise StrategyError(f"workers must be >= 1, got {workers}")
        self.engine = engine
        self.workers = workers
        self.cores = available_cores()
        self.info = info or GraphInfo(engine)
        self.options = options

    def run(self, feeds: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        raise NotImplementedError(f"{type(self).__name__}.run")

    def describe(self) -> dict[str, Any]:
        return {"strategy": self.name, "workers": self.workers, **{k: v for k, v in self.options.items() if _plain(v)}}

    def close(self) -> None:
        """Release worker threads, if the runner keeps any."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _plain(v) -> bool:
    return isinstance(v, (int, float, str, bool, type(None)))


class Sequential(Runner):
    """The engine as it is, on one torch thread: the baseline every strategy is measured against."""

    name = "sequential"

    def run(self, feeds):
        with torch_threads(1):
            return self.engine.run(feeds)

    def describe(self):
        return {"strategy": self.name, "workers": 1}


class IntraOp(Runner):
    """The engine as it is, with torch's own threads inside each kernel (``workers`` of them)."""

    name = "intra_op"

    def run(self, feeds):
        with torch_threads(self.workers):
            return self.engine.run(feeds)
