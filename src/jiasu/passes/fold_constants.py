"""Evaluate, once, every node whose inputs are all constant, and store its outputs as initializers."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir
import torch
from onnx_ir.passes.common import LiftConstantsToInitializersPass

from ..kernels import KERNELS, BuildContext
from ..kernels.base import to_torch
from ._graph import constant, new_initializer, remove_dead
from .base import JiasuPass

# Ops whose output must not be frozen: random draws differ on every run. Identity is
# eliminate_identity's job: folding it would copy an initializer that others still share.
_SKIP = {"RandomNormal", "RandomNormalLike", "RandomUniform", "RandomUniformLike", "Multinomial", "Bernoulli", "Identity"}


class FoldConstants(JiasuPass):
    """Rules:

    1. ``Constant`` nodes become initializers (onnx-ir's ``LiftConstantsToInitializersPass``);
    2. a node of the default domain whose inputs are all constant (and that has
       no subgraph, is not random and is not an Identity) is run once with jiasu's own kernel and
       replaced by initializers holding its outputs; results larger than
       ``max_elements`` stay computed, so folding never bloats the model
       (ConstantOfShape of a big shape, say);
    3. a node that produces a graph output is left in place (an initializer is not an output).
    """

    name = "fold_constants"

    def __init__(self, max_elements: int = 1 << 20) -> None:
        super().__init__()
        self.max_elements = max_elements

    def rewrite(self, model: ir.Model) -> None:
        graph = model.graph
        constants_before = sum(1 for n in graph if n.op_type == "Constant" and n.domain == "")
        LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0)(model)
        self.count("lifted {} Constant to initializers", constants_before - sum(1 for n in graph if n.op_type == "Constant"))
        opset = int(model.opset_imports.get("", 1))
        for node in list(graph):
            if node.graph is not graph or not self._foldable(node):
                continue
            inputs = [constant(v) if v is not None and v.name else None for v in node.inputs]
            if any(a is None for a, v in zip(inputs, node.inputs) if v is not None and v.name):
                continue
            outputs = self._evaluate(node, inputs, opset)
            if outputs is None:
                continue
            stale = list(node.inputs)
            for value, array in zip(node.outputs, outputs):
                init = new_initializer(graph, f"{value.name}_folded", array)
                ir.convenience.replace_all_uses_with(value, init)
            graph.remove(node, safe=True)
            remove_dead(graph, stale)
            self.count("folded {} constant nodes")

    def _foldable(self, node: ir.Node) -> bool:
        if node.domain != "" or node.op_type in _SKIP or ("", node.op_type) not in KERNELS:
            return False
        if any(a.type in (ir.AttributeType.GRAPH, ir.AttributeType.GRAPHS) for a in node.attributes.values()):
            return False
        return not any(o.is_graph_output() for o in node.outputs) and any(o.uses() for o in node.outputs)

    def _evaluate(self, node: ir.Node, inputs: list, opset: int) -> list[np.ndarray] | None:
        device = torch.device("cpu")
        ctx = BuildContext(device=device, opset=opset)
        tensors = [to_torch(a, device) if a is not None else None for a in inputs]
        try:
            kernel = KERNELS[("", node.op_type)](node, ctx)
            with torch.inference_mode():
                results = kernel.run(*tensors)
        except Exception:  # a kernel that refuses these constants at build time is left to fail (and explain) at run time
            return None
        arrays = [r.detach().cpu().numpy().copy() for r in results]
        if sum(a.size for a in arrays) > self.max_elements:
            return None
        return arrays
