"""Unstructured pruning: zero single weights of Conv and Linear layers, by magnitude or at random.

Masks are ``torch.nn.utils.prune`` masks (``weight = weight_orig * weight_mask``
in a forward pre-hook), so a pruned model trains as usual and pruned weights
stay zero. :func:`make_permanent` folds the masks into plain weights before
export. Scores: ``|w|`` for ``magnitude`` (Han et al. 2015), uniform noise for
``random`` (the baseline). A weight that is already zero is always pruned first,
so raising the sparsity step by step (:mod:`.schedule`) only ever adds to the
pruned set, for both methods. ``scope="global"`` ranks all layers' weights
together (one threshold); ``scope="layer"`` prunes each layer to the same
fraction, or to its own fraction from ``per_layer``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Optional

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from ...errors import JiasuError

METHODS = ("magnitude", "random")
SCOPES = ("global", "layer")
PRUNABLE = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


@dataclass(frozen=True)
class LayerSparsity:
    name: str
    kind: str
    total: int
    nonzero: int

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nonzero / self.total if self.total else 0.0


def prunable_layers(model: nn.Module, exclude: Iterable[str] = ()) -> dict[str, nn.Module]:
    """Conv and Linear layers of ``model`` by qualified name, minus ``exclude``; unknown excluded names are an error."""
    exclude = set(exclude)
    layers = {name: m for name, m in model.named_modules() if isinstance(m, PRUNABLE)}
    unknown = sorted(exclude - set(layers))
    if unknown:
        raise JiasuError(f"cannot exclude {', '.join(unknown)}: not a Conv or Linear layer of the model; prunable: {', '.join(layers) or 'none'}")
    return {name: m for name, m in layers.items() if name not in exclude}


def _weight(module: nn.Module) -> torch.Tensor:
    """The effective weight (masked if a mask is attached)."""
    return module.weight.detach()


def _scores(weight: torch.Tensor, method: str, gen: torch.Generator) -> torch.Tensor:
    if method == "magnitude":
        s = weight.abs().float()
    else:
        s = torch.rand(weight.shape, generator=gen) + 1e-6  # > 0, so existing zeros (-1 below) go first
    return torch.where(weight == 0, torch.full_like(s, -1.0), s)


def _check(sparsity: float, method: str, scope: str) -> None:
    if not 0.0 <= sparsity < 1.0:
        raise JiasuError(f"sparsity must be in [0, 1), got {sparsity}")
    if method not in METHODS:
        raise JiasuError(f"unknown pruning method {method!r}; choose one of {', '.join(METHODS)}")
    if scope not in SCOPES:
        raise JiasuError(f"unknown pruning scope {scope!r}; choose one of {', '.join(SCOPES)}")


def _mask_keep_top(scores: torch.Tensor, n_prune: int) -> torch.Tensor:
    mask = torch.ones(scores.numel())
    if n_prune > 0:
        mask[torch.argsort(scores.flatten(), stable=True)[:n_prune]] = 0.0
    return mask.view_as(scores)


def prune_unstructured(
    model: nn.Module,
    sparsity: float,
    method: str = "magnitude",
    scope: str = "global",
    per_layer: Optional[Mapping[str, float]] = None,
    exclude: Iterable[str] = (),
    seed: int = 0,
) -> dict[str, float]:
    """Mask ``model``'s Conv/Linear weights in place so a ``sparsity`` fraction is zero; the sparsity per layer.

    ``per_layer`` (layer name -> fraction) overrides ``sparsity`` for those
    layers and implies ``scope="layer"``. Layers already pruned keep their
    pruned weights (see the module docstring).
    """
    _check(sparsity, method, scope)
    layers = prunable_layers(model, exclude)
    if not layers:
        raise JiasuError("the model has no Conv or Linear layers to prune")
    gen = torch.Generator().manual_seed(seed)
    make_permanent(model)
    scores = {name: _scores(_weight(m), method, gen) for name, m in layers.items()}
    if per_layer:
        unknown = sorted(set(per_layer) - set(layers))
        if unknown:
            raise JiasuError(f"per_layer names {', '.join(unknown)} are not prunable layers; prunable: {', '.join(layers)}")
        for v in per_layer.values():
            _check(v, method, scope)
        scope = "layer"
    if scope == "global":
        flat = torch.cat([s.flatten() for s in scores.values()])
        n_prune = int(round(sparsity * flat.numel()))
        keep = _mask_keep_top(flat, n_prune)
        masks, offset = {}, 0
        for name, s in scores.items():
            masks[name] = keep[offset : offset + s.numel()].view_as(s)
            offset += s.numel()
    else:
        fractions = {name: (per_layer or {}).get(name, sparsity) for name in layers}
        masks = {name: _mask_keep_top(s, int(round(fractions[name] * s.numel()))) for name, s in scores.items()}
    for name, module in layers.items():
        torch_prune.custom_from_mask(module, "weight", masks[name].to(module.weight.device, module.weight.dtype))
    return {name: 1.0 - float(masks[name].mean()) for name in layers}


def make_permanent(model: nn.Module) -> nn.Module:
    """Fold every pruning mask into its weight (zeros stay zeros) and drop the masks; returns ``model``."""
    for module in model.modules():
        if torch_prune.is_pruned(module) and hasattr(module, "weight_orig"):
            torch_prune.remove(module, "weight")
    return model


def sparsity_report(model: nn.Module) -> list[LayerSparsity]:
    """Total and non-zero weights of every Conv/Linear layer (masked weights count as zero)."""
    return [
        LayerSparsity(name, type(m).__name__, int(m.weight.numel()), int((_weight(m) != 0).sum()))
        for name, m in prunable_layers(model).items()
    ]


def count_nonzero(model: nn.Module) -> tuple[int, int]:
    """(non-zero, total) over all parameters of ``model`` (masked weights count as zero)."""
    nonzero = total = 0
    for name, m in model.named_modules():
        for pname, p in m.named_parameters(recurse=False):
            if pname == "weight_orig":
                p = m.weight
            nonzero += int((p != 0).sum())
            total += p.numel()
    return nonzero, total
