"""``jiasu::FusedConv``: a Conv with its bias, residual add and activation in one node.

Written by the fusion passes (``jiasu.passes``). Inputs ``X, W, B?, Z?``; Conv's
attributes plus ``activation`` (an ONNX op name: Relu, Clip, LeakyRelu,
HardSwish, Sigmoid, Tanh, Swish, or "" for none) and ``activation_params``
(Clip: min, max with +-inf for a missing bound; LeakyRelu: alpha). Computes
``Y = activation(Conv(X, W, B) + Z)``. The convolution algorithm runs the
epilogue itself where it can (oneDNN post-ops, Winograd's output transform).
"""

from __future__ import annotations

from ...errors import JiasuError
from ..conv.base import ACTIVATION_ARITY, Epilogue
from .conv import Conv


def epilogue_of(kernel) -> Epilogue:
    """The node's ``activation``/``activation_params`` as an :class:`Epilogue` (shared with FusedGemm)."""
    activation = kernel.attr("activation", "") or ""
    if isinstance(activation, bytes):
        activation = activation.decode()
    params = tuple(float(p) for p in (kernel.attr("activation_params", []) or []))
    arity = ACTIVATION_ARITY.get(activation, 0) if activation else 0
    if len(params) != arity:
        raise JiasuError(
            f"{kernel.describe()}: activation {activation!r} takes {arity} activation_params, got {len(params)}"
        )
    residual = kernel.has_input(3) if kernel.node.op_type == "FusedConv" else False
    return Epilogue(activation, params, residual)


class FusedConv(Conv):
    domain = "jiasu"

    def __init__(self, node, ctx):
        self.epilogue = None
        super().__init__(node, ctx)
        self.epilogue = epilogue_of(self)
