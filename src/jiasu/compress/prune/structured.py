"""Structured (channel) pruning: physically remove filters, so the smaller model is faster everywhere.

Removing output channel ``i`` of a conv must also remove input channel ``i`` of
every layer that reads it, the matching BatchNorm entries, the matching slice
of a concat, the same channel of every branch summed by a residual add, and the
paired channel of a depthwise conv. Torch-Pruning's dependency graph (Fang et
al., CVPR 2023) traces the model once and groups those coupled channels; each
group is ranked as a whole by ``importance`` and the lowest-ranked channels
are removed. The classifier's outputs (the last Linear) are never pruned.

Importance: ``l1`` / ``l2`` (the group's weight norm) or ``bn`` (BatchNorm
scale |gamma|, Liu et al. 2017's network slimming; needs BatchNorm layers).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

import torch
from torch import nn

from ...errors import BackendUnavailableError, JiasuError

IMPORTANCES = ("l1", "l2", "bn")


@dataclass(frozen=True)
class ChannelPruneResult:
    """MACs and parameters of one forward pass on the example input, before and after."""

    macs_before: int
    macs_after: int
    params_before: int
    params_after: int

    @property
    def mac_ratio(self) -> float:
        return self.macs_after / self.macs_before

    @property
    def param_ratio(self) -> float:
        return self.params_after / self.params_before


def _tp():
    try:
        import torch_pruning
    except ImportError:
        raise BackendUnavailableError(
            "structured (channel) pruning needs torch-pruning; install it with `pip install 'jiasu[prune]'`"
        ) from None
    return torch_pruning


def count_macs_params(model: nn.Module, example_input: torch.Tensor) -> tuple[int, int]:
    """(MACs, parameters) of ``model`` on ``example_input``, as Torch-Pruning counts them."""
    tp = _tp()
    macs, params = tp.utils.count_ops_and_params(model, example_input)
    return int(macs), int(params)


def _importance(tp, name: str):
    if name == "l1":
        return tp.importance.GroupMagnitudeImportance(p=1)
    if name == "l2":
        return tp.importance.GroupMagnitudeImportance(p=2)
    return tp.importance.BNScaleImportance()


def classifier_layers(model: nn.Module) -> list[nn.Module]:
    """The last Linear (or, failing that, the last Conv) of ``model``: its outputs are the classes."""
    for kind in (nn.Linear, nn.Conv2d):
        layers = [m for m in model.modules() if isinstance(m, kind)]
        if layers:
            return [layers[-1]]
    return []


def prune_channels(
    model: nn.Module,
    example_input: torch.Tensor,
    ratio: float,
    importance: str = "l1",
    ignored: Optional[Iterable[nn.Module]] = None,
    global_ranking: bool = False,
    round_to: Optional[int] = None,
) -> ChannelPruneResult:
    """Remove a ``ratio`` fraction of the channels of every prunable group of ``model``, in place.

    ``ignored`` modules keep their output channels (default: the classifier,
    see :func:`classifier_layers`). With ``global_ranking`` the channels are
    ranked across layers and the per-layer ratios differ. ``round_to`` keeps
    every pruned width a multiple of it (8 or 16 suit vectorised kernels).
    """
    tp = _tp()
    if not 0.0 <= ratio < 1.0:
        raise JiasuError(f"channel ratio must be in [0, 1), got {ratio}")
    if importance not in IMPORTANCES:
        raise JiasuError(f"unknown channel importance {importance!r}; choose one of {', '.join(IMPORTANCES)}")
    if importance == "bn" and not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        raise JiasuError("importance 'bn' ranks channels by BatchNorm scale, but the model has no BatchNorm; use 'l1' or 'l2'")
    ignored = list(classifier_layers(model) if ignored is None else ignored)
    was_training = model.training
    model.eval()
    macs0, params0 = count_macs_params(model, example_input)
    pruner = tp.pruner.MetaPruner(
        model,
        example_input,
        importance=_importance(tp, importance),
        pruning_ratio=ratio,
        ignored_layers=ignored,
        global_pruning=global_ranking,
        round_to=round_to,
    )
    pruner.step()
    macs1, params1 = count_macs_params(model, example_input)
    model.train(was_training)
    return ChannelPruneResult(macs0, macs1, params0, params1)
