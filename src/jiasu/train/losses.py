"""Losses for :func:`jiasu.train.fit`, and the one rule for reading model outputs.

Zoo classifiers end either in logits or in a ``Softmax`` layer (``smallcnn``
does, so its ONNX graph ends in Softmax). Training works on log-probabilities
either way: :func:`log_probs` takes the log of probabilities and the
log-softmax of logits. Log-probabilities are logits too (they differ from any
logits by a per-row constant), so temperature-scaled distillation can use them.

A loss hook is ``loss_fn(log_probs, labels, images) -> scalar tensor``; it
gets the batch's images so a distillation loss can run its teacher on them.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def ends_in_softmax(model: nn.Module) -> bool:
    """Whether the last leaf module registered in ``model`` is a ``Softmax`` (its outputs are probabilities)."""
    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    return bool(leaves) and isinstance(leaves[-1], nn.Softmax)


def log_probs(outputs: torch.Tensor, probabilities: bool) -> torch.Tensor:
    """Log-probabilities from a model's ``outputs`` (``probabilities``: they are softmax outputs, else logits)."""
    if probabilities:
        # Clamped so a saturated softmax gives a large finite loss rather than inf.
        return torch.log(outputs.clamp_min(1e-12))
    return F.log_softmax(outputs, dim=1)


def cross_entropy(log_p: torch.Tensor, labels: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """The default loss: cross-entropy against the true labels."""
    return F.nll_loss(log_p, labels)
