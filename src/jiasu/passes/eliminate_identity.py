"""Remove nodes that compute nothing: Identity, inference Dropout, and dead nodes and initializers."""

from __future__ import annotations

from collections import Counter

import onnx_ir as ir
from onnx_ir.passes.common import IdentityEliminationPass, RemoveUnusedNodesPass

from ._graph import constant, is_op
from .base import JiasuPass


class EliminateIdentity(JiasuPass):
    """Rules, in order:

    1. ``Dropout(x)`` in inference (no ``training_mode`` input, or a constant false
       one) whose mask output nobody reads becomes ``Identity(x)``;
    2. ``y = Identity(x)`` is removed and its readers read ``x`` (onnx-ir's
       ``IdentityEliminationPass``; kept only where it joins a graph input or
       initializer straight to a graph output);
    3. nodes none of whose outputs are read, and initializers nobody reads, are
       removed (onnx-ir's ``RemoveUnusedNodesPass``; the model's signature stays).
    """

    name = "eliminate_identity"

    def rewrite(self, model: ir.Model) -> None:
        graph = model.graph
        for node in list(graph):
            if is_op(node, "Dropout") and self._inference_dropout(node):
                node.op_type = "Identity"
                node.resize_inputs(1)
                node.resize_outputs(1)
                node.attributes.clear()
                self.count("removed {} Dropout")
        before = Counter(n.op_type for n in graph)
        inits_before = len(graph.initializers)
        IdentityEliminationPass()(model)
        after_identity = Counter(n.op_type for n in graph)
        self.count("removed {} Identity", max(0, before["Identity"] - after_identity["Identity"] - self.rewrites["removed {} Dropout"]))
        n_before = len(graph)
        RemoveUnusedNodesPass()(model)
        self.count("removed {} dead nodes", n_before - len(graph))
        self.count("removed {} unused initializers", inits_before - len(graph.initializers))

    @staticmethod
    def _inference_dropout(node: ir.Node) -> bool:
        if len(node.outputs) > 1 and (node.outputs[1].uses() or node.outputs[1].is_graph_output()):
            return False
        if len(node.inputs) > 2 and node.inputs[2] is not None:
            mode = constant(node.inputs[2])
            return mode is not None and not bool(mode.reshape(-1)[0])
        return True
