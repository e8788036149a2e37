"""torch's intra-op thread count, set for a block or for a worker thread.

Below the runtime so that kernels running their own workers (Winograd's chunks) and
the runtime's multi-core strategies share one way of doing it.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch


def enter_worker(intra: int) -> None:
    """Called at the top of each worker thread: torch's thread count can be per OS thread (OpenMP)."""
    if torch.get_num_threads() != intra:
        torch.set_num_threads(intra)


@contextmanager
def torch_threads(n: int):
    """torch's intra-op thread count set to ``n`` for the block (it is process-wide), then restored."""
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
