"""Graph passes: rewrites of the onnx-ir model that keep its outputs and make it cheaper to run.

One pass per file, each an onnx-ir in-place pass (``JiasuPass``, see ``base.py``),
registered here and nowhere else. ``optimize(model)`` runs ``DEFAULT_PASSES`` in
order and reports what each did.

To add a pass: write ``passes/<name>.py`` with a :class:`JiasuPass` subclass
whose ``name`` is ``<name>``, import it below and add it to ``_PASSES``; then
test it in ``tests/passes/test_<name>.py`` by running a model before and after it.
"""

from __future__ import annotations

import onnx_ir as ir

from .lower_int8 import LowerInt8
from ..errors import JiasuError, format_choices
from .base import JiasuPass, PassReport
from .eliminate_identity import EliminateIdentity
from .fold_batchnorm import FoldBatchNorm
from .fold_constants import FoldConstants
from .fuse_conv_activation import FuseConvActivation
from .fuse_inverted_residual import FuseInvertedResidual
from .fuse_residual_add import FuseResidualAdd
from .pool_phases import PoolPhases
from .simplify_shapes import SimplifyShapes

_PASSES: list[type[JiasuPass]] = [
    EliminateIdentity, LowerInt8, FoldConstants, SimplifyShapes, FoldBatchNorm, FuseResidualAdd, FuseConvActivation,
    FuseInvertedResidual, PoolPhases,
]

PASSES: dict[str, type[JiasuPass]] = {p.name: p for p in _PASSES}

# Order matters: lower_int8 (QDQ groups -> int8 kernels; nothing on a float model) must see the
# DequantizeLinear of each int8 weight before constant folding turns it into a float weight.
# Identity removal exposes constants (BN statistics behind Identity), folding and
# shape simplification expose Conv -> BN -> Add -> Relu chains, BN folding must precede the fusions
# (a FusedConv has no BN to fold into), and the residual Add fuses before the activation pass would
# take the Conv's Relu-less output for itself. fuse_inverted_residual reads the FusedConvs (activations and
# residual already in them) the two fusions write. The final eliminate_identity drops what the others orphaned.
# pool_phases is registered but not default: it trades MACs for fewer outputs, which pays only on thin layers.
DEFAULT_PASSES: list[str] = [
    "eliminate_identity",
    "lower_int8",
    "fold_constants",
    "simplify_shapes",
    "fold_batchnorm",
    "fuse_residual_add",
    "fuse_conv_activation",
    "fuse_inverted_residual",
    "eliminate_identity",
]


def get_pass(name: str) -> type[JiasuPass]:
    """The registered pass class called ``name``; an error listing the others if none is."""
    try:
        return PASSES[name]
    except KeyError:
        raise JiasuError(
            f"unknown pass {name!r}; available: {format_choices(PASSES)}. To add one, see jiasu/passes/__init__.py."
        ) from None


def optimize(model: ir.Model, passes: list[str] | None = None) -> tuple[ir.Model, list[PassReport]]:
    """Run ``passes`` (default: ``DEFAULT_PASSES``) on ``model`` in place, in order; the model and one report per pass."""
    names = list(DEFAULT_PASSES if passes is None else passes)
    classes = [get_pass(n) for n in names]  # unknown names fail before anything is rewritten
    reports = []
    for name, cls in zip(names, classes):
        before = len(model.graph)
        instance = cls()
        result = instance(model)
        model = result.model
        reports.append(PassReport(name, result.modified, before, len(model.graph), dict(instance.rewrites)))
    return model, reports


__all__ = ["DEFAULT_PASSES", "PASSES", "JiasuPass", "PassReport", "get_pass", "optimize"]
