"""The contract every jiasu pass implements, and the report ``optimize`` returns per pass.

A pass is an onnx-ir in-place pass: ``pass_(model)`` rewrites ``model`` and
returns ``PassResult(model, modified)``. Subclasses implement ``rewrite`` and
call ``self.count("folded {} BatchNormalization")`` once per rewrite, so the
report can say what changed ("folded 20 BatchNormalization"). A rewrite that
cannot apply leaves the graph untouched: a pass never half-rewrites a pattern.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

import onnx_ir as ir


class JiasuPass(ir.passes.InPlacePass):
    """Base class: ``name`` is the registry key; ``rewrites`` counts what the last call changed."""

    name: ClassVar[str] = ""

    def __init__(self) -> None:
        super().__init__()
        self.rewrites: Counter[str] = Counter()

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        self.rewrites = Counter()
        self.rewrite(model)
        return ir.passes.PassResult(model, modified=bool(self.rewrites))

    def rewrite(self, model: ir.Model) -> None:
        raise NotImplementedError(f"{type(self).__name__}.rewrite")

    def count(self, template: str, n: int = 1) -> None:
        """Record ``n`` rewrites described by ``template`` (one ``{}`` for the number)."""
        if n:
            self.rewrites[template] += n


@dataclass(frozen=True)
class PassReport:
    """What one pass did to the graph."""

    name: str
    modified: bool
    nodes_before: int
    nodes_after: int
    #: rewrite template ("folded {} BatchNormalization") -> how many times it applied
    rewrites: dict[str, int] = field(default_factory=dict)

    @property
    def total_rewrites(self) -> int:
        return sum(self.rewrites.values())

    def summary(self) -> str:
        """One line: ``"fold_batchnorm: 81 -> 61 nodes; folded 20 BatchNormalization"``."""
        what = "; ".join(t.format(n) for t, n in self.rewrites.items()) or "no change"
        return f"{self.name}: {self.nodes_before} -> {self.nodes_after} nodes; {what}"
