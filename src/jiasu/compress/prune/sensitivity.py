"""Per-layer sensitivity: accuracy when one layer alone is pruned, at several sparsities.

Each layer is pruned by magnitude to each sparsity with every other layer
intact, evaluated, and restored (no retraining), which is how Han et al. (2015)
chose per-layer ratios. :func:`choose_ratios` then takes, per layer, the
highest sparsity whose accuracy drop stays within a budget.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Iterable, Sequence

from torch import nn
from torch.utils.data import Dataset

from ...train import evaluate
from .unstructured import prunable_layers, prune_unstructured


@dataclass(frozen=True)
class SensitivityPoint:
    layer: str
    sparsity: float
    accuracy: float


def sensitivity_scan(
    model: nn.Module,
    data: Dataset,
    sparsities: Sequence[float] = (0.5, 0.75, 0.9, 0.95),
    method: str = "magnitude",
    exclude: Iterable[str] = (),
) -> tuple[float, list[SensitivityPoint]]:
    """(dense accuracy, one point per layer and sparsity) on ``data``; ``model`` is left unchanged."""
    base = evaluate(model, data).accuracy
    points = []
    for name in prunable_layers(model, exclude):
        for s in sparsities:
            trial = copy.deepcopy(model)
            prune_unstructured(trial, s, method=method, scope="layer", per_layer={name: s}, exclude=[n for n in prunable_layers(trial) if n != name])
            points.append(SensitivityPoint(name, s, evaluate(trial, data).accuracy))
    return base, points


def choose_ratios(base: float, points: Sequence[SensitivityPoint], max_drop: float = 0.01) -> dict[str, float]:
    """Per layer, the highest scanned sparsity whose accuracy is within ``max_drop`` of ``base`` (0 if none is)."""
    ratios: dict[str, float] = {}
    for p in points:
        ratios.setdefault(p.layer, 0.0)
        if base - p.accuracy <= max_drop:
            ratios[p.layer] = max(ratios[p.layer], p.sparsity)
    return ratios
