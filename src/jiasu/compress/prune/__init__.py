"""Pruning: unstructured (magnitude or random masks, iterative with retraining, per-layer sensitivity)
and structured (channels removed through residuals, concats and depthwise groups).

>>> prune_unstructured(model, 0.9, method="magnitude", scope="global")     # masks; train as usual
>>> make_permanent(model)                                                  # plain weights, for export
>>> prune_channels(model, torch.randn(1, 3, 224, 224), ratio=0.5)          # a smaller dense model
"""

from __future__ import annotations

from .schedule import PruneStep, gradual_steps, iterative_prune
from .sensitivity import SensitivityPoint, choose_ratios, sensitivity_scan
from .sparsify import SparseLayer, SparsePlan, csr_size, sparsify
from .structured import ChannelPruneResult, classifier_layers, count_macs_params, prune_channels
from .unstructured import (
    LayerSparsity,
    count_nonzero,
    make_permanent,
    prunable_layers,
    prune_unstructured,
    sparsity_report,
)

__all__ = [
    "ChannelPruneResult",
    "LayerSparsity",
    "PruneStep",
    "SensitivityPoint",
    "SparseLayer",
    "SparsePlan",
    "choose_ratios",
    "classifier_layers",
    "count_macs_params",
    "count_nonzero",
    "csr_size",
    "gradual_steps",
    "iterative_prune",
    "make_permanent",
    "prunable_layers",
    "prune_channels",
    "prune_unstructured",
    "sensitivity_scan",
    "sparsify",
    "sparsity_report",
]
