"""Iterative prune-retrain: raise the sparsity in steps, fine-tuning between them.

The steps follow Zhu & Gupta's gradual schedule (2017), ``s_k = s * (1 - (1 - k/n)^3)``
for ``k = 1..n``: large steps while many redundant weights remain, small ones near
the target. After each step the model trains ``epochs_per_step`` epochs with the
masks in place, so pruned weights stay zero (Han et al. 2015: prune, retrain,
repeat).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

from torch import nn
from torch.utils.data import Dataset

from ...errors import JiasuError
from ...train import evaluate, fit
from .unstructured import prune_unstructured


@dataclass(frozen=True)
class PruneStep:
    step: int
    sparsity: float
    accuracy_after_prune: Optional[float]
    accuracy_after_retrain: Optional[float]


def gradual_steps(target: float, steps: int) -> list[float]:
    """The sparsity after each of ``steps`` steps, ending exactly at ``target``."""
    if steps < 1:
        raise JiasuError(f"steps must be >= 1, got {steps}")
    return [target * (1.0 - (1.0 - k / steps) ** 3) for k in range(1, steps + 1)]


def iterative_prune(
    model: nn.Module,
    train_data: Dataset,
    val_data: Optional[Dataset],
    target: float,
    steps: int = 3,
    epochs_per_step: int = 1,
    method: str = "magnitude",
    scope: str = "global",
    exclude: Iterable[str] = (),
    seed: int = 0,
    **fit_kwargs: Any,
) -> list[PruneStep]:
    """Prune ``model`` in place to ``target`` sparsity in ``steps`` steps with retraining; one record per step.

    ``fit_kwargs`` go to :func:`jiasu.train.fit` (lr, batch_size, loss_fn for
    distillation, ...); a ``checkpoint`` path becomes one file per step,
    ``<checkpoint>.step<k>``, so a resumed run redoes the (deterministic)
    pruning of each step and skips the retraining already done. Accuracies are
    on ``val_data`` (None without it).
    """
    records = []
    for k, s in enumerate(gradual_steps(target, steps), start=1):
        prune_unstructured(model, s, method=method, scope=scope, exclude=exclude, seed=seed + k)
        after_prune = evaluate(model, val_data).accuracy if val_data is not None else None
        if epochs_per_step:
            step_kwargs = dict(fit_kwargs)
            if step_kwargs.get("checkpoint") is not None:
                # One checkpoint per step: step k's must not resume from step k-1's finished epochs.
                ckpt = Path(step_kwargs["checkpoint"])
                step_kwargs["checkpoint"] = ckpt.with_name(f"{ckpt.name}.step{k}")
            fit(model, train_data, None, epochs=epochs_per_step, seed=seed + k, description=f"retrain {s:.0%}", **step_kwargs)
        after = evaluate(model, val_data).accuracy if val_data is not None else None
        records.append(PruneStep(k, s, after_prune, after))
    return records
