"""Our engine vs ONNX Runtime (and OpenVINO) on small inputs, where the cost is per op, not FLOPs.

    python benchmarks/small_inputs.py [--rounds 7] [--runs 20] [--threads 1,2] [--quick]

One process, every configuration built up front, then interleaved rounds: each
round runs every (threads, model, batch, engine) configuration in turn, a block
of ``--runs`` timed calls after 2 untimed ones; a configuration's time is its
best round (the median of a block), so a burst of load from elsewhere hits all
configurations alike and is dropped. Before each of our engine's blocks the
harness sets torch's thread count explicitly (as a caller switching counts
does); ONNX Runtime and OpenVINO get theirs per session (ORT: CPU provider,
ORT_ENABLE_ALL, the repository's disabled optimizers, intra-op N, inter-op 1,
spinning as by default; OpenVINO: INFERENCE_PRECISION_HINT=f32, LATENCY,
INFERENCE_NUM_THREADS=N, static shapes). Each engine's output is checked once
against ONNX Runtime (max |diff| / max |ref|). Our engine appears twice: one
engine per thread count (``jiasu``), and one engine run at every thread count in
turn (a process that changes its count, as a benchmark interleaving 1 and 2
threads does): before the fix its oneDNN weights, packed at the first count,
were reordered again inside every call at the other.

Caveat of one process: ORT's spinning intra-op threads and torch's OpenMP
threads may still spin for a moment after their own calls; the untimed calls
at the start of each block absorb most of that.

Models (28x28x1 inputs unless noted): ``zoo:resnet18?num_classes=10&image_size=28&in_channels=1``
(the ImageNet ResNet-18 on a 28x28 image: maps 14x14 down to 1x1) and
``zoo:smallcnn?weights=fashion-mnist`` at batch 1 and 8, ``zoo:resnet18``
(224x224x3) at batch 1. Prints a Markdown table of ms per image.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch

import jiasu
from jiasu.backends.base import BenchModel
from jiasu.backends.onnxruntime import OnnxRuntimeBackend, OnnxRuntimeOptions
from jiasu.backends.openvino import OpenVinoBackend, OpenVinoOptions
from jiasu.frontends import copy_model
from jiasu.frontends.inputs import example_feeds
from jiasu.passes import optimize

SHARED = "jiasu, one engine at both counts"
MODELS = [
    ("resnet18 28x28x1", "zoo:resnet18?num_classes=10&image_size=28&in_channels=1", (1, 8)),
    ("smallcnn 28x28x1", "zoo:smallcnn?weights=fashion-mnist", (1, 8)),
    ("resnet18 224x224x3", "zoo:resnet18", (1,)),
]


def our_engine(bench_model: BenchModel) -> jiasu.Engine:
    """Our engine as ``jiasu.Engine(jiasu.load(...))`` after the default passes (conv_algorithm auto)."""
    model, _ = optimize(copy_model(bench_model.ir))
    return jiasu.Engine(model)


class Ours:
    """Our engine at ``threads``: torch's (process-wide) thread count is set before every call."""

    def __init__(self, engine: jiasu.Engine, threads: int, name: str = "jiasu"):
        self.engine, self.threads, self.name = engine, threads, name

    def run(self, feeds):
        torch.set_num_threads(self.threads)
        return self.engine.run_numpy(feeds)


class Peer:
    def __init__(self, cls, options, bench_model: BenchModel):
        self.name = cls.name
        self.backend = cls()
        self.backend.compile(bench_model, options)

    def run(self, feeds):
        return self.backend.run(feeds)


def block(fn, runs: int) -> float:
    """Median seconds per call over ``runs`` calls, after 2 untimed ones."""
    fn()
    fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", type=int, default=20, help="timed calls per configuration and round")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 5 runs (a smoke test)")
    parser.add_argument("--no-openvino", action="store_true")
    parser.add_argument("--models", default="", help="only the models whose label contains one of these words (comma-separated)")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.runs = 2, 5
    thread_counts = [int(t) for t in args.threads.split(",")]
    with_ov = OpenVinoBackend.is_available() and not args.no_openvino

    configs = []  # (label, batch, threads, engine, feeds)
    wanted = [w for w in args.models.split(",") if w]
    for label, source, batches in MODELS:
        if wanted and not any(w in label for w in wanted):
            continue
        base = BenchModel.load(source)
        for batch in batches:
            bm = base.with_batch(batch)
            feeds = {k: np.ascontiguousarray(np.asarray(v)) for k, v in example_feeds(bm.ir, batch=batch).items()}
            shared = our_engine(bm)  # one engine run at every thread count in turn
            for threads in thread_counts:
                engines = [
                    Peer(OnnxRuntimeBackend, OnnxRuntimeOptions(threads=threads), bm),
                    Ours(our_engine(bm), threads),
                    Ours(shared, threads, SHARED),
                ]
                if with_ov:
                    engines.append(Peer(OpenVinoBackend, OpenVinoOptions(threads=threads), bm))
                for e in engines:
                    configs.append((label, batch, threads, e, feeds))

    # Correctness once, against ONNX Runtime at the same batch and thread count.
    errors, refs = {}, {}
    for label, batch, threads, e, feeds in configs:
        out = next(iter(e.run(feeds).values()))
        key = (label, batch, threads)
        if e.name == "onnxruntime":
            refs[key] = out
    for label, batch, threads, e, feeds in configs:
        ref = refs[(label, batch, threads)]
        out = next(iter(e.run(feeds).values()))
        errors[(label, batch, threads, e.name)] = float(np.abs(out - ref).max() / max(np.abs(ref).max(), 1e-30))

    best: dict[tuple, float] = {}
    t_start = time.time()
    for r in range(args.rounds):
        for label, batch, threads, e, feeds in configs:
            key = (label, batch, threads, e.name)
            t = block(lambda: e.run(feeds), args.runs) / batch
            best[key] = min(best.get(key, float("inf")), t)
        print(f"round {r + 1}/{args.rounds} done ({time.time() - t_start:.0f} s)", file=sys.stderr)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"torch {torch.__version__}, jiasu {jiasu.__version__} ({os.path.dirname(jiasu.__file__)}), "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load (1 min) {load:.2f} at the end; "
        f"{args.rounds} interleaved rounds x {args.runs} runs, best round's median, ms per image"
    )
    print()
    names = ["jiasu", SHARED, "onnxruntime"] + (["openvino"] if with_ov else [])
    print("| model | batch | threads | " + " | ".join(names) + " | jiasu / fastest peer | max rel. err vs ORT (jiasu) |")
    print("|---|---:|---:|" + "---:|" * len(names) + "---:|---:|")
    seen = []
    for label, batch, threads, _, _ in configs:
        if (label, batch, threads) in seen:
            continue
        seen.append((label, batch, threads))
        times = {n: best[(label, batch, threads, n)] * 1e3 for n in names}
        peer = min(v for n, v in times.items() if not n.startswith("jiasu"))
        cells = " | ".join(f"{times[n]:.3g}" for n in names)
        err = max(errors[(label, batch, threads, "jiasu")], errors[(label, batch, threads, SHARED)])
        print(f"| {label} | {batch} | {threads} | {cells} | {times['jiasu'] / peer:.2f}x | {err:.0e} |")


if __name__ == "__main__":
    main()
