"""Autotuning: pick each convolution's algorithm by timing every candidate on the node's real shapes.

The model runs once step by step to capture each Conv/FusedConv's actual
inputs (shape, dtype, memory layout, and the residual for a fused add). Every
algorithm that applies is then prepared with the node's own weights and
epilogue and timed on those inputs; the fastest wins, or with
:func:`tune_in_context` the fastest of the close contenders timed again inside
whole runs of the model. Times alone are cached on
disk (``$JIASU_CACHE_DIR`` or ``~/.cache/jiasu``, ``tuning.json``) keyed by the
node's signature, the machine fingerprint and the thread count, so tuning the
same layer again on this machine is a lookup. A time budget bounds the whole
search: nodes it does not reach keep the heuristic choice, and say so.
"""

from __future__ import annotations

import gc
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional

import torch

from ..analysis.roofline import cache_dir, cpu_model
from ..kernels.ops.conv import Conv
from .plan import NodePlan

CACHE_FILE = "tuning.json"


def machine_key(threads: int) -> str:
    """CPU model, core count, torch version, algorithm revisions, allocator and threads: a tuning result is only valid under all.

    Revisions appear only once an algorithm has changed (``ConvAlgorithm.revision`` > 1);
    "keeps freed memory" when the engine has set malloc so (``jiasu.runtime.allocator``),
    which changes what allocation-heavy algorithms such as Winograd cost.
    """
    from ..kernels.conv import CONV_ALGORITHMS
    from ..runtime.allocator import state

    changed = ",".join(f"{name}@{a.revision}" for name, a in sorted(CONV_ALGORITHMS.items()) if a.revision != 1)
    parts = [cpu_model(), str(os.cpu_count()), f"torch {torch.__version__}"] + [changed] * bool(changed)
    return "|".join(parts + ["keeps freed memory"] * bool(state()["kept"]) + [f"{threads} threads"])


def node_signature(kernel: Conv, x: torch.Tensor, z: Optional[torch.Tensor]) -> str:
    """Everything that changes which algorithm is fastest for one conv node (not its name or weight values)."""
    w = kernel.weight
    epi = kernel.epilogue
    parts = {
        "w": list(w.shape) if w is not None else None,
        "bias": kernel.bias is not None,
        "stride": kernel.strides,
        "dilation": kernel.dilations,
        "pads": kernel.pads,
        "auto_pad": kernel.auto_pad,
        "group": kernel.group,
        "x": list(x.shape),
        "dtype": str(x.dtype),
        "channels_last": bool(x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()),
        "device": x.device.type,
        "epilogue": [epi.activation, list(epi.params), epi.residual] if epi is not None else None,
    }
    return json.dumps(parts, sort_keys=True)


@dataclass
class TuningCache:
    """Tuning results on disk: {machine key: {node signature: {"best": name, "timings_ms": {...}, "failed": [...]}}}.

    ``failed`` names the candidates that raised while tuning. An entry serves a node only
    if it covers every candidate that applies there now: an algorithm registered after
    the entry was written gets timed (the node is tuned again), not silently passed over.
    """

    path: Path
    data: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Optional[Path] = None) -> "TuningCache":
        path = Path(path) if path is not None else cache_dir() / CACHE_FILE
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}  # missing or damaged: tuning simply starts over
        return cls(path, data)

    def get(self, machine: str, signature: str) -> Optional[dict[str, Any]]:
        return self.data.get(machine, {}).get(signature)

    def put(self, machine: str, signature: str, best: str, timings: dict[str, float], failed: Iterable[str] = ()) -> None:
        self.data.setdefault(machine, {})[signature] = {"best": best, "timings_ms": timings, "failed": sorted(failed)}

    @staticmethod
    def covers(entry: Optional[dict[str, Any]], candidates: Mapping[str, Optional[str]]) -> bool:
        """Whether ``entry`` timed (or saw fail) every applicable candidate (``why`` None) and its best is one of them."""
        if entry is None:
            return False
        applicable = {name for name, why in candidates.items() if why is None}
        seen = set(entry.get("timings_ms", {})) | set(entry.get("failed", ()))
        return entry.get("best") in applicable and applicable <= seen

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1))
        tmp.replace(self.path)  # atomic: a crash mid-write never leaves a half file


def time_candidates(fns: dict[str, Callable[[], Any]], *, budget_s: float = 0.5, min_rounds: int = 3, max_rounds: int = 30) -> dict[str, float]:
    """Best-of-n seconds of each ``fns[name]()``, timed round-robin after one warm-up each.

    Round-robin, so a burst of load from elsewhere hits every candidate alike; the
    minimum, not the mean, because noise on a shared machine only ever adds time.
    Runs ``min_rounds`` rounds, then more while ``budget_s`` lasts; hopeless
    candidates (first run over 8x the fastest) keep their first run's time.
    """
    warm = {}
    for name, fn in fns.items():
        t0 = time.perf_counter()
        fn()
        warm[name] = time.perf_counter() - t0
    # A candidate whose first run took over 8x the fastest first run cannot win (one-time work
    # such as weight packing is far smaller than that): its first run is its time, and the
    # budget goes to the contenders. On vgg16 this skips FFT and im2col on the big early layers.
    fastest = min(warm.values(), default=0.0)
    best = {name: (float("inf") if t <= 8 * fastest else t) for name, t in warm.items()}
    contenders = {name: fn for name, fn in fns.items() if best[name] == float("inf")}
    start = time.perf_counter()
    rounds = 0
    while rounds < min_rounds or (rounds < max_rounds and time.perf_counter() - start < budget_s):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
        rounds += 1
    return best


def capture_conv_inputs(engine, feeds: Mapping[str, Any]) -> dict[int, tuple[torch.Tensor, Optional[torch.Tensor]]]:
    """Step index -> (x, z) as each Conv/FusedConv node really receives them (cloned, layout kept)."""
    captured: dict[int, tuple[torch.Tensor, Optional[torch.Tensor]]] = {}

    def on_step(i, inputs, outputs):
        if isinstance(engine.steps[i].kernel, Conv):
            x = inputs[0]
            z = inputs[3] if len(inputs) > 3 else None
            captured[i] = (x.clone(memory_format=torch.preserve_format), None if z is None else z.clone(memory_format=torch.preserve_format))

    engine.trace(feeds, on_step)
    return captured


def tune(
    engine,
    feeds: Mapping[str, Any],
    *,
    budget_s: float = 120.0,
    per_candidate_s: float = 0.15,
    cache: Optional[TuningCache] = None,
    threads: Optional[int] = None,
    progress: Callable[[int, int, str], None] | None = None,
    captured: Optional[dict[int, tuple[torch.Tensor, Optional[torch.Tensor]]]] = None,
) -> list[NodePlan]:
    """One :class:`NodePlan` per tunable conv node of ``engine`` (in graph order), chosen by measurement.

    ``cache`` (None: no cache) is read and updated; ``progress(done, total, node)`` is
    called after each node. Convolutions whose weight is not constant keep the
    engine's choice (``source="heuristic"``). ``captured``: :func:`capture_conv_inputs` on ``engine`` and
    ``feeds``, where the caller has it (None: captured here).
    """
    threads = threads or torch.get_num_threads()
    machine = machine_key(threads)
    captured = capture_conv_inputs(engine, feeds) if captured is None else captured
    deadline = time.perf_counter() + budget_s
    plans: list[NodePlan] = []
    total = len(captured)
    with torch.inference_mode():
        for done, (i, (x, z)) in enumerate(captured.items(), 1):
            kernel: Conv = engine.steps[i].kernel
            node = kernel.node
            current = engine.choices[i].choice or "direct"
            candidates = kernel.candidates()
            skipped = {name: why for name, why in candidates.items() if why is not None}
            plan = NodePlan(node.name, node.op_type, current, "heuristic", {}, skipped, list(x.shape))
            if kernel.weight is None or not kernel.bias_is_const:
                plan.skipped = {"*": "weight or bias not constant: not tunable"}
            else:
                signature = node_signature(kernel, x, z)
                hit = cache.get(machine, signature) if cache is not None else None
                if TuningCache.covers(hit, candidates):
                    plan.algorithm, plan.source, plan.timings_ms = hit["best"], "cache", dict(hit["timings_ms"])
                    plan.skipped.update({name: "failed while tuning (cached)" for name in hit.get("failed", ())})
                elif time.perf_counter() < deadline:
                    fns = {}
                    for name, why in candidates.items():
                        if why is not None:
                            continue
                        try:
                            fn = kernel.prepare_candidate(name, x)
                            fn(x, z)  # a candidate that fails here is not a candidate
                            fns[name] = lambda fn=fn: fn(x, z)
                        except Exception as e:
                            plan.skipped[name] = f"failed while tuning: {type(e).__name__}: {e}"
                    timings = time_candidates(fns, budget_s=per_candidate_s * max(len(fns), 1))
                    plan.timings_ms = {name: round(t * 1e3, 4) for name, t in timings.items()}
                    if plan.timings_ms:
                        plan.algorithm = min(plan.timings_ms, key=plan.timings_ms.get)
                        plan.source = "tuned"
                        if cache is not None:
                            failed = [name for name, why in candidates.items() if why is None and name not in fns]
                            cache.put(machine, signature, plan.algorithm, plan.timings_ms, failed)
                else:
                    plan.skipped["*"] = f"tuning budget of {budget_s:g} s spent: heuristic choice kept"
            plans.append(plan)
            if progress is not None:
                progress(done, total, node.name)
    if cache is not None:
        cache.save()
    return plans


#: In context, a node's contenders are its candidates whose time alone is within this factor of its best
#: alone (noise and the caches move times by tens of percent between the two settings; FFT or im2col at
#: several times the best do not come back), plus the heuristic's choice.
CONTEXT_WITHIN = 1.5
#: At most this many contenders a node, hence engines built at once (each holds its own packed weights).
CONTEXT_ENGINES = 4


def tune_in_context(
    engine,
    nodes: list[NodePlan],
    feeds: Mapping[str, Any],
    *,
    within: float = CONTEXT_WITHIN,
    max_engines: int = CONTEXT_ENGINES,
    rounds: int = 3,
    repeats: int = 3,
    budget_s: float = 60.0,
    progress: Callable[[int, int, str], None] | None = None,
    captured: Optional[dict[int, tuple[torch.Tensor, Optional[torch.Tensor]]]] = None,
) -> dict[str, Any]:
    """Decide again, by its time inside whole runs of the model, each node that :func:`tune` timed alone.

    Alone, a node runs on the input and weights it left in the caches on its last run. Inside the model its
    input comes hot from the layer before and its weights cold from memory (resnet50's 100 MB do not fit the
    L3), and Winograd's transformed weights are 4-16x the plain ones: resnet50 at batch 1, its choices by
    time alone ran 53.7 ms step by step where the heuristic's ran 50.1, and its first 3x3 layers took
    0.70 ms in the model where they took 1.18 alone.

    ``engine`` runs the heuristic's choices. Contenders per node: its candidates within ``within`` of its
    best time alone, fastest first, and the algorithm the heuristic runs on it, at most ``max_engines``.
    Where the heuristic's algorithm is a C call inside a chain, so must its contenders be: a torch
    algorithm there splits the chain, and its cost falls on the Python between chains and on the layouts
    of the layers after it, not on its own time (resnet18 at batch 1 with a torch stem: 25 ms a run
    against 17, its stem 0.1 ms faster). Such nodes are timed in C inside whole runs
    (:meth:`~jiasu.runtime.Engine.chain_times`), the others step by step
    (:meth:`~jiasu.runtime.Engine.node_times`).

    Engine k runs contender k mod n of every node with n of them, so that ``max(n)`` engines cover
    every contender; they take turns, ``rounds`` times (fewer once ``budget_s`` is spent, never under
    one), ``repeats`` runs a turn. As many engines live at once as a third of the memory available holds (the
    first one built shows what one takes); where that is fewer than all, they go in groups, one after
    another. A node keeps the contender with the lowest time seen. ``nodes`` are
    updated in place (``algorithm``, ``source="tuned in context"``, ``context_ms``); returns a record of
    the contest for the plan.

    ``captured``: :func:`capture_conv_inputs` on ``engine`` and ``feeds``, where the caller has it from
    :func:`tune` (None: captured here). It is emptied once read, so that the clones of every conv's input do
    not stay in memory beside the engines built after.
    """
    from ..bench.memory import available_mb, rss_mb
    from ..runtime import Engine

    start = time.perf_counter()
    if captured is None:
        captured = capture_conv_inputs(engine, feeds)
    by_name = {engine.steps[i].kernel.node.name: (engine.steps[i].kernel, x, z) for i, (x, z) in captured.items()}
    captured.clear()
    contenders: dict[str, list[str]] = {}
    heuristic: dict[str, str] = {}
    in_chain: set[str] = set()
    with torch.inference_mode():
        for n in nodes:
            if n.source not in ("tuned", "cache") or len(n.timings_ms) < 2 or n.node not in by_name:
                continue
            kernel, x, z = by_name[n.node]
            chosen = kernel.algorithm_for(x)
            best = min(n.timings_ms.values())
            ranked = sorted((a for a, t in n.timings_ms.items() if t <= within * best), key=n.timings_ms.get)
            if _native(kernel, chosen, x, z):
                in_chain.add(n.node)
                ranked = [a for a in ranked if a == chosen or _native(kernel, a, x, z)]
            if chosen in n.timings_ms and chosen not in ranked[:max_engines]:
                ranked = ranked[: max_engines - 1] + [chosen]
            else:
                ranked = ranked[:max_engines]
            if len(ranked) > 1:
                contenders[n.node], heuristic[n.node] = ranked, chosen
            elif ranked == [chosen] and n.algorithm != chosen:  # the pick alone would have split a chain
                n.algorithm, n.source = chosen, "heuristic (no other C call within reach)"
    by_name = x = z = None  # every conv's input, cloned: not to be held beside the engines below
    if not contenders:
        return {"nodes": 0}
    fixed = {n.node: n.algorithm for n in nodes}
    count = max(len(c) for c in contenders.values())
    assigned = [{node: c[k % len(c)] for node, c in contenders.items()} for k in range(count)]
    seen: dict[str, dict[str, float]] = {node: {} for node in contenders}
    stepwise = set(contenders) - in_chain

    def build(k: int):
        built = Engine(engine.model, engine.options, conv_algorithms={**fixed, **assigned[k]})
        built.run(feeds)  # packs the weights and traces the chains: the engine's memory, all of it
        return built

    def note(node: str, algorithm: str, ms: float) -> None:
        times = seen[node]
        times[algorithm] = min(times.get(algorithm, float("inf")), ms)

    def timed(k: int, built) -> None:
        for row in built.chain_times(feeds, repeats=repeats) if in_chain else ():
            if row["node"] in in_chain and row["node"] in contenders:
                note(row["node"], assigned[k][row["node"]], row["ms"])
        for row in built.node_times(feeds, repeats=repeats) if stepwise else ():
            if row["node"] in stepwise:
                note(row["node"], row["algorithm"], row["ms"])

    # As many engines at once as a third of the memory available holds (each packs its own weights and keeps its
    # own activations: vgg16 at batch 8, 2.4 GB an engine, and three of them next to a benchmark's other
    # workers were killed for memory); the engines of one group take turns, group after group.
    before = rss_mb()
    first = build(0)
    after, available = rss_mb(), available_mb()
    if before is None or after is None or available is None:  # no /proc: nothing to go by
        at_once = count
    else:
        per_engine = max(after - before, 1e-6)
        at_once = max(1, min(count, int((available + per_engine) / 3 // per_engine)))
    done = turns = 0
    groups = (count + at_once - 1) // at_once
    for g0 in range(0, count, at_once):
        group = list(range(g0, min(g0 + at_once, count)))
        engines = {k: first if k == 0 else build(k) for k in group}
        first = None
        for r in range(rounds):
            if r and time.perf_counter() - start > budget_s:
                break
            for k in group if r % 2 == 0 else group[::-1]:  # who goes first alternates: drift hits all
                timed(k, engines[k])
            done, turns = max(done, r + 1), turns + 1
            if progress is not None:
                progress(turns, groups * rounds, f"whole-model round {r + 1} of {rounds}, engines {group[0] + 1}-{group[-1] + 1} of {count}")
        del engines
        gc.collect()
    changed = 0
    for n in nodes:
        times = seen.get(n.node)
        if times is None:
            continue
        if not times:  # no run timed it (it fell out of its chain): the heuristic's, unless the pick alone contends
            if n.algorithm not in contenders[n.node]:
                n.algorithm, n.source = heuristic[n.node], "heuristic (not timed in context)"
            continue
        n.context_ms = {a: round(t, 4) for a, t in times.items()}
        pick = min(times, key=times.get)
        changed += pick != n.algorithm
        n.algorithm, n.source = pick, "tuned in context"
    return {
        "nodes": len(contenders), "in_chains": len(in_chain), "engines": count, "at_once": at_once, "rounds": done,
        "changed": changed, "seconds": round(time.perf_counter() - start, 2),
    }


def _native(kernel: Conv, name: str, x: torch.Tensor, z: Optional[torch.Tensor]) -> bool:
    """Whether ``kernel`` with algorithm ``name`` runs ``x`` as one C call (so inside a chain)."""
    try:
        fn = kernel.prepare_candidate(name, x)
    except Exception:
        return False
    call = getattr(fn, "native_call", None)
    return call is not None and call(x, z) is not None
