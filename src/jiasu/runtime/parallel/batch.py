"""Data parallel: the batch cut into one slice per worker, each slice the whole graph on its own thread."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import torch

from ...kernels.threads import enter_worker, torch_threads
from ._graph import intra_threads_for
from .base import Runner, StrategyError


def split_batch(feeds: dict, parts: int) -> list[dict]:
    """``feeds`` cut along axis 0 into ``parts`` slices as even as possible (every input must share the batch)."""
    sizes = {name: int(v.shape[0]) for name, v in feeds.items() if getattr(v, "ndim", 0) >= 1}
    batches = set(sizes.values())
    if len(batches) != 1:
        raise StrategyError(f"cannot split the batch: inputs disagree on axis 0 ({sizes}); give every input the same batch size")
    batch = batches.pop()
    if batch < parts:
        raise StrategyError(
            f"batch strategy needs a batch of at least {parts} (one item per worker), got {batch}; "
            "use 'spatial' or 'inter_op' for a single image"
        )
    bounds = [batch * k // parts for k in range(parts + 1)]
    return [{name: v[bounds[k] : bounds[k + 1]] for name, v in feeds.items()} for k in range(parts)]


def concat_outputs(pieces: list[dict]) -> dict:
    """Per-slice outputs joined along axis 0; an output without a batch axis is an error (it cannot be split)."""
    out = {}
    for name in pieces[0]:
        tensors = [p[name] for p in pieces]
        if tensors[0].dim() == 0:
            raise StrategyError(f"output {name!r} is a scalar, so the batch cannot be split across workers; use 'intra_op'")
        out[name] = torch.cat(tensors, 0)
    return out


class BatchParallel(Runner):
    name = "batch"

    def __init__(self, engine, workers=2, **kw):
        super().__init__(engine, workers, **kw)
        self.intra = intra_threads_for(workers, self.cores)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jiasu-batch")

    def _one(self, feeds):
        enter_worker(self.intra)
        with torch.inference_mode():
            return self.engine.run(feeds)

    def run(self, feeds):
        parts = split_batch(dict(feeds), self.workers)
        with torch_threads(self.intra):
            pieces = list(self._pool.map(self._one, parts))
        return concat_outputs(pieces)

    def describe(self):
        return {"strategy": self.name, "workers": self.workers, "intra_threads": self.intra}

    def close(self):
        self._pool.shutdown(wait=True)
