"""Training: :func:`fit` and :func:`evaluate` for classifiers, with checkpoints and a loss hook.

>>> from jiasu import zoo
>>> from jiasu.data import fashion_mnist
>>> model = zoo.get("smallcnn", num_classes=10, image_size=28, padding=2).train()
>>> history = fit(model, fashion_mnist.load_subset("train"), fashion_mnist.load_subset("test"), epochs=3)
>>> evaluate(model, fashion_mnist.load_subset("test")).accuracy    # doctest: +SKIP
"""

from __future__ import annotations

from .checkpoint import load_checkpoint, save_checkpoint
from .losses import LossFn, cross_entropy, ends_in_softmax, log_probs
from .loop import EpochRecord, EvalResult, evaluate, fit, make_loader, seed_everything

__all__ = [
    "EpochRecord",
    "EvalResult",
    "LossFn",
    "cross_entropy",
    "ends_in_softmax",
    "evaluate",
    "fit",
    "load_checkpoint",
    "log_probs",
    "make_loader",
    "save_checkpoint",
    "seed_everything",
]
