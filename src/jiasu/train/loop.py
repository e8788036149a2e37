"""``fit`` and ``evaluate``: a small, deterministic training loop for classifiers.

Data comes through ``torch.utils.data.DataLoader`` (``num_workers`` background
processes; 0 loads in the main process). Given the same ``seed`` a run is
repeatable: the seed fixes the initial RNG state, the shuffling order and each
worker's seed. A rich progress bar shows the running loss and accuracy.
``checkpoint`` names a file written after every epoch; with ``resume=True`` a
run that finds it continues after the last finished epoch.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import random
import time
from dataclasses import asdict, dataclass
from typing import Callable, Optional

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from ..errors import JiasuError
from .checkpoint import load_checkpoint, restore, save_checkpoint
from .losses import LossFn, cross_entropy, ends_in_softmax, log_probs

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class EvalResult:
    """Mean loss and accuracy (a fraction) over ``count`` examples."""

    loss: float
    accuracy: float
    count: int


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: Optional[float]
    val_accuracy: Optional[float]
    seconds: float
    lr: float


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _seed_worker(worker_id: int) -> None:
    # Each worker derives its seed from the loader's base seed (torch sets it per worker).
    s = torch.initial_seed() % 2**32
    random.seed(s)
    np.random.seed(s)


# forkserver where the platform has it (Linux, macOS); Windows only spawns, which is as safe.
_WORKER_START = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"


def make_loader(data: Dataset, batch_size: int, shuffle: bool, num_workers: int, seed: int = 0) -> DataLoader:
    """A DataLoader with seeded shuffling and workers (``num_workers`` background processes).

    Workers start from a forkserver, not by forking this process: a fork copies a process that may hold
    threads (OpenMP's pool after our C kernels ran, Ray's, a test runner's), and such forks crashed the
    forked worker now and then here (pytest's xdist worker, one run in three). They start once per loader
    (``persistent_workers``), so the slower start is paid once.
    """
    if batch_size < 1:
        raise JiasuError(f"batch_size must be >= 1, got {batch_size}")
    if num_workers < 0:
        raise JiasuError(f"num_workers must be >= 0, got {num_workers}")
    return DataLoader(
        data,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(seed),
        worker_init_fn=_seed_worker if num_workers else None,
        persistent_workers=num_workers > 0,
        multiprocessing_context=_WORKER_START if num_workers else None,
    )


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
        disable=not enabled,
        transient=False,
    )


@torch.no_grad()
def evaluate(model: nn.Module, data: Dataset, batch_size: int = 256, num_workers: int = 0, device: str = "cpu", loss_fn: LossFn | None = None) -> EvalResult:
    """Loss (``loss_fn``, default cross-entropy) and top-1 accuracy of ``model`` on ``data``, in eval mode."""
    loss_fn = loss_fn or cross_entropy
    probabilities = ends_in_softmax(model)
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    try:
        for images, labels in make_loader(data, batch_size, False, num_workers):
            images, labels = images.to(device), labels.to(device)
            lp = log_probs(model(images), probabilities)
            total_loss += float(loss_fn(lp, labels, images)) * len(labels)
            correct += int((lp.argmax(1) == labels).sum())
            count += len(labels)
    finally:
        model.train(was_training)
    if count == 0:
        raise JiasuError("cannot evaluate on an empty dataset")
    return EvalResult(total_loss / count, correct / count, count)


def _lr_at(schedule: str, base: float, step: int, total: int) -> float:
    if schedule == "cosine":
        return 0.5 * base * (1.0 + math.cos(math.pi * min(step, total) / max(total, 1)))
    return base


def check_schedule(schedule: str) -> None:
    """A clear error unless ``schedule`` is one :func:`fit` knows (callers check it before loading anything)."""
    if schedule not in SCHEDULES:
        raise JiasuError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")


def fit(
    model: nn.Module,
    train_data: Dataset,
    val_data: Dataset | None = None,
    *,
    epochs: int = 1,
    lr: float = 1e-3,
    batch_size: int = 64,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    schedule: str = "constant",
    loss_fn: LossFn | None = None,
    num_workers: int = 1,
    seed: int = 0,
    device: str = "cpu",
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    description: str = "train",
    on_epoch_end: Callable[[EpochRecord], None] | None = None,
) -> list[EpochRecord]:
    """Train ``model`` in place for ``epochs`` epochs; the per-epoch history (including epochs done before a resume).

    ``loss_fn(log_probs, labels, images)`` replaces cross-entropy (distillation
    passes its loss here). Train accuracy is measured on the batches as they
    are trained; validation runs after every epoch when ``val_data`` is given.
    Parameters with ``requires_grad=False`` are not trained.
    """
    if epochs < 0:
        raise JiasuError(f"epochs must be >= 0, got {epochs}")
    if optimizer not in OPTIMIZERS:
        raise JiasuError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    check_schedule(schedule)
    seed_everything(seed)
    loss_fn = loss_fn or cross_entropy
    probabilities = ends_in_softmax(model)
    model.to(device)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = (
        torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
        if optimizer == "adam"
        else torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay, nesterov=True)
    )
    history: list[EpochRecord] = []
    start_epoch = 0
    if checkpoint is not None and resume and os.path.exists(checkpoint):
        state = load_checkpoint(checkpoint)
        restore(state, model, opt, checkpoint)
        history = [EpochRecord(**r) for r in state["history"]]
        start_epoch = int(state["epoch"])
    loader = make_loader(train_data, batch_size, True, num_workers, seed)
    steps_per_epoch = len(loader)
    total_steps = steps_per_epoch * epochs
    with _progress(progress) as bar:
        for epoch in range(start_epoch, epochs):
            # Reseed the shuffle per epoch so a resumed run draws the batches an uninterrupted one would.
            loader.generator.manual_seed(seed * 1000 + epoch)
            task = bar.add_task(f"{description} {epoch + 1}/{epochs}", total=steps_per_epoch, stats="")
            model.train()
            t0 = time.perf_counter()
            sum_loss, correct, count = 0.0, 0, 0
            for i, (images, labels) in enumerate(loader):
                lr_now = _lr_at(schedule, lr, epoch * steps_per_epoch + i, total_steps)
                for group in opt.param_groups:
                    group["lr"] = lr_now
                images, labels = images.to(device), labels.to(device)
                lp = log_probs(model(images), probabilities)
                loss = loss_fn(lp, labels, images)
                if not torch.isfinite(loss):
                    raise JiasuError(f"training diverged: loss is {loss.item()} at epoch {epoch + 1}, step {i + 1}; lower the learning rate (now {lr})")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                n = len(labels)
                sum_loss += loss.item() * n
                correct += int((lp.argmax(1) == labels).sum())
                count += n
                bar.update(task, advance=1, stats=f"loss {sum_loss / count:.4f} acc {correct / count:.2%}")
            val = evaluate(model, val_data, device=device, loss_fn=cross_entropy) if val_data is not None else None
            record = EpochRecord(
                epoch=epoch + 1,
                train_loss=sum_loss / max(count, 1),
                train_accuracy=correct / max(count, 1),
                val_loss=val.loss if val else None,
                val_accuracy=val.accuracy if val else None,
                seconds=time.perf_counter() - t0,
                lr=lr_now if count else lr,
            )
            history.append(record)
            if val is not None:
                bar.update(task, stats=f"loss {record.train_loss:.4f} acc {record.train_accuracy:.2%} | val loss {val.loss:.4f} acc {val.accuracy:.2%}")
            if checkpoint is not None:
                save_checkpoint(checkpoint, model, opt, epoch + 1, [asdict(r) for r in history])
            if on_epoch_end is not None:
                on_epoch_end(record)
    return history
