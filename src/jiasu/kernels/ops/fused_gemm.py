"""``jiasu::FusedGemm``: Gemm followed by an activation, in one node.

Gemm's inputs and attributes plus ``activation``/``activation_params`` as in
``jiasu::FusedConv``; ``Y = activation(alpha * A' @ B' + beta * C)``. On the
inner-product path the activation is oneDNN's post-op; otherwise it runs in
place on the freshly computed product.
"""

from __future__ import annotations

from .fused_conv import epilogue_of
from .gemm import Gemm


class FusedGemm(Gemm):
    domain = "jiasu"

    def __init__(self, node, ctx):
        super().__init__(node, ctx)
        self.epilogue = epilogue_of(self)
