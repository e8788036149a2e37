"""Training checkpoints: everything :func:`jiasu.train.fit` needs to resume where it stopped.

One file (``torch.save``) holds the model and optimizer state, the number of
finished epochs, the history so far, and the RNG states, so a resumed run
draws the same batches as an uninterrupted one. It is written to a temporary
name and renamed, so a crash mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..errors import JiasuError

FORMAT = 1


def save_checkpoint(path: str | os.PathLike, model: torch.nn.Module, optimizer: torch.optim.Optimizer, epoch: int, history: list, extra: dict | None = None) -> None:
    """Write the state after ``epoch`` finished epochs to ``path`` (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": FORMAT,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
        "history": history,
        "torch_rng": torch.get_rng_state(),
        "extra": extra or {},
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The state saved by :func:`save_checkpoint`; a JiasuError if ``path`` is not one."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise JiasuError(f"checkpoint not found: {path}") from None
    except Exception as e:  # torch.load raises many types on a bad file
        raise JiasuError(f"cannot read checkpoint {path} ({type(e).__name__}: {e}); delete it to start over") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise JiasuError(f"{path} is not a jiasu training checkpoint (format {FORMAT}); delete it to start over")
    return state


def restore(state: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer, path: str | os.PathLike = "checkpoint") -> None:
    """Load ``state`` into ``model`` and ``optimizer``; a JiasuError if the model does not match."""
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise JiasuError(f"checkpoint {path} was saved from a different model ({first}); use another checkpoint path") from None
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"])
