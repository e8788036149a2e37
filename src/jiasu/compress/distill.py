"""Knowledge distillation (Hinton et al. 2015): train a student on a teacher's softened outputs.

The loss mixes a soft and a hard term::

    loss = alpha * T^2 * KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) * CE(s, hard targets)

where ``t`` and ``s`` are the teacher's and student's log-probabilities (logits
up to a constant, see :mod:`jiasu.train.losses`) and ``T`` the temperature;
``T^2`` keeps the soft gradients' scale independent of ``T``. The hard targets
are the true labels (``hard="labels"``) or the teacher's argmax
(``hard="teacher"``, for unlabelled data). ``alpha=1`` is soft-only, ``alpha=0``
plain training. Used to recover accuracy after pruning or quantization (the
unpruned model teaches its pruned copy) and to train a small network from a
bigger one.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from ..errors import JiasuError
from ..train import EpochRecord, ends_in_softmax, fit, log_probs

HARD_TARGETS = ("labels", "teacher")


class DistillationLoss:
    """A :func:`jiasu.train.fit` loss hook: ``loss(student_log_probs, labels, images)`` as the module docstring says."""

    def __init__(self, teacher: nn.Module, temperature: float = 4.0, alpha: float = 0.7, hard: str = "labels") -> None:
        if temperature <= 0:
            raise JiasuError(f"temperature must be > 0, got {temperature}")
        if not 0.0 <= alpha <= 1.0:
            raise JiasuError(f"alpha must be in [0, 1], got {alpha}")
        if hard not in HARD_TARGETS:
            raise JiasuError(f"unknown hard targets {hard!r}; choose one of {', '.join(HARD_TARGETS)}")
        self.teacher = teacher.eval()
        self.teacher_probabilities = ends_in_softmax(teacher)
        self.temperature, self.alpha, self.hard = float(temperature), float(alpha), hard

    def teacher_log_probs(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return log_probs(self.teacher(images), self.teacher_probabilities)

    def __call__(self, student: torch.Tensor, labels: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        teacher = self.teacher_log_probs(images)
        t = self.temperature
        soft = F.kl_div(F.log_softmax(student / t, dim=1), F.log_softmax(teacher / t, dim=1), reduction="batchmean", log_target=True) * t * t
        if self.alpha == 1.0:
            return soft
        targets = labels if self.hard == "labels" else teacher.argmax(1)
        return self.alpha * soft + (1.0 - self.alpha) * F.nll_loss(student, targets)


def distill(
    teacher: nn.Module,
    student: nn.Module,
    train_data: Dataset,
    val_data: Optional[Dataset] = None,
    *,
    temperature: float = 4.0,
    alpha: float = 0.7,
    hard: str = "labels",
    **fit_kwargs: Any,
) -> list[EpochRecord]:
    """Train ``student`` in place from ``teacher`` (frozen); ``fit_kwargs`` go to :func:`jiasu.train.fit`."""
    if "loss_fn" in fit_kwargs:
        raise JiasuError("distill sets the loss itself; pass temperature, alpha and hard instead of loss_fn")
    loss = DistillationLoss(teacher, temperature, alpha, hard)
    fit_kwargs.setdefault("description", "distill")
    flags = [p.requires_grad for p in teacher.parameters()]
    try:
        for p in teacher.parameters():
            p.requires_grad_(False)
        return fit(student, train_data, val_data, loss_fn=loss, **fit_kwargs)
    finally:
        for p, flag in zip(teacher.parameters(), flags):
            p.requires_grad_(flag)
