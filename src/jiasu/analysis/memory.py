"""Activation memory over the topological order, and where each byte moved comes from.

**Peak live activation memory.** Walk the nodes in the graph's (topological)
order. Graph inputs are live from the start. A node's outputs become live when
it runs, while its inputs are still live; a value dies after its last reader
(an output nobody reads dies right after its producer), graph outputs live to
the end. The peak is the largest live total at any node; the naive figure is
every activation tensor summed, as if none were ever freed. Constants
(weights) are not activations and are not included.

**Memory-access model (for energy).** Every tensor a node reads or writes
crosses the memory boundary exactly once for that node: perfect reuse inside a
node, so this is a lower bound on traffic. Accesses are 32-bit words,
``ceil(bytes / 4)`` per tensor access. Each access is an on-chip SRAM access or
an off-chip DRAM access by this rule, with ``cache`` the on-chip capacity in
bytes:

1. A tensor larger than ``cache`` is in DRAM: every read and write of it is a
   DRAM access.
2. A tensor that fits is on chip after its first touch: its producer writes it
   to SRAM, or, for weights and graph inputs, which start in DRAM, its first
   read fetches it from DRAM and later reads hit SRAM.
3. Graph outputs leave the chip: their write is a DRAM access.

Nothing is evicted, and every tensor that fits is taken to fit together with
the others: an optimistic model, so the DRAM energy it gives is a floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from .counts import NodeCounts, Tensor

DEFAULT_CACHE_BYTES = 1 << 20  # 1 MiB of on-chip SRAM (a typical per-core L2)
WORD_BYTES = 4

Bytes = Callable[[Tensor], float]


@dataclass(frozen=True)
class ActivationMemory:
    peak_bytes: float
    naive_bytes: float
    peak_node: str  # the node running when the peak is reached
    live_bytes: tuple[float, ...]  # live bytes while each node runs


@dataclass(frozen=True)
class Traffic:
    """32-bit words one node moves, split by where they come from or go to."""

    sram_words: int = 0
    dram_words: int = 0

    @property
    def bytes(self) -> int:
        return WORD_BYTES * (self.sram_words + self.dram_words)


def words(nbytes: float) -> int:
    return math.ceil(nbytes / WORD_BYTES)


def activation_memory(counts: list[NodeCounts], graph_inputs: list[Tensor], graph_outputs: set[str], nbytes: Bytes) -> ActivationMemory:
    """Peak and naive activation bytes for running ``counts`` in order (see the module docstring)."""
    last_use: dict[str, int] = {}
    for i, node in enumerate(counts):
        for t in node.inputs:
            last_use[t.name] = i
    size: dict[str, float] = {t.name: nbytes(t) for t in graph_inputs}
    live = sum(size.values())
    naive = live
    peak, peak_node, trace = live, "", []
    for i, node in enumerate(counts):
        for t in node.outputs:
            if t.name not in size:
                size[t.name] = nbytes(t)
                live += size[t.name]
                naive += size[t.name]
        trace.append(live)
        if live > peak:
            peak, peak_node = live, node.name
        dying = [t.name for t in node.inputs if last_use.get(t.name) == i] + [t.name for t in node.outputs if t.name not in last_use]
        for name in dict.fromkeys(dying):
            if name not in graph_outputs and name in size:
                live -= size.pop(name)
    return ActivationMemory(peak, naive, peak_node, tuple(trace))


def traffic(counts: list[NodeCounts], graph_outputs: set[str], nbytes: Bytes, cache_bytes: float) -> list[Traffic]:
    """Per node, SRAM and DRAM words by the memory-access model of the module docstring."""
    on_chip: set[str] = set()
    result = []
    for node in counts:
        sram = dram = 0
        for t in (*node.weights, *node.inputs):
            w, fits = words(nbytes(t)), nbytes(t) <= cache_bytes
            if fits and t.name in on_chip:
                sram += w
            else:
                dram += w
                if fits:
                    on_chip.add(t.name)
        for t in node.outputs:
            w, fits = words(nbytes(t)), nbytes(t) <= cache_bytes
            if fits and t.name not in graph_outputs:
                sram += w
            else:
                dram += w
            if fits:
                on_chip.add(t.name)
        result.append(Traffic(sram, dram))
    return result
