"""Sessions 14 and 15's changes, each against the engine without it, in one process: runs alternate, the ratio is
the median of paired runs.

    python benchmarks/native_steps_ab.py MODEL BATCH CHANGE [--seconds 15] [--threads 2] [--base REV]

CHANGE is one of:

- ``chains``: consecutive C kernels as one call into C (``jiasu.runtime.chain``), against every step through Python;
- ``winograd_product``: Winograd's channel products in C, the whole conv one C call, against ``torch.bmm``
  between the C transforms (``Winograd.native_product``);
- ``concat``: Concat of channels_last images in C (``kernels/native/concat.c``) against ``torch.cat``;
- ``nhwc_gemm``: the heuristic's ``nhwc_gemm`` for the dense convs oneDNN ran before, against oneDNN;
- ``classifier_tail`` (session 15): Flatten of a channels_last batch and a small Softmax in C, so the chain runs on
  to the output, against torch's reshape and softmax;
- ``gemm_rows`` (session 15): Gemm of 2-16 rows by ``pointwise``'s C product, against oneDNN's inner product;
- ``winograd_f6`` (session 16): F(6x6, 3x3) where the heuristic runs F(4x4, 3x3) on maps of 14x14 or more, against
  F(4x4, 3x3) there;
- ``winograd_f2`` (session 16): the heuristic's F(2x2, 3x3) for 3x3 calls with few tiles
  (``heuristic.WINOGRAD_F2_TILES``), against F(4x4, 3x3) or ``nhwc_gemm`` there;
- ``shortcut`` (session 17): ``run_numpy`` straight to a model that is one chain (``Engine._shortcut``), against
  the long way through the feeds' checks, the forward and torch tensors;
- ``sources``: the C kernels of this checkout against those of git revision ``--base`` (built from
  ``git archive``; the chain runner stays this checkout's), for a change made inside the C files. Both engines
  must run the model as one chain, so that each keeps the kernels it traced with (Python's own calls look the
  library up again).

Both engines run the heuristic's plan (no tuning) on the zoo model, and their outputs are compared first. Runs
are timed through ``run_numpy`` on numpy feeds, as ``jiasu bench`` times them (before session 17, through ``run``).
Prints ms per image (min, 10th percentile, median) for each and the paired median ratio (above 1: the change
is faster). The machine is shared and noisy: only the paired ratio of one run means much.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

import jiasu.kernels.ops.gemm as gemm_op
from jiasu.frontends.inputs import example_feeds
from jiasu.kernels import native
from jiasu.kernels.conv import get_algorithm
from jiasu.kernels.conv.winograd import Winograd
from jiasu.plan import compile_model, heuristic

CHANGES = ("chains", "winograd_product", "concat", "nhwc_gemm", "classifier_tail", "gemm_rows", "sources", "winograd_f6", "winograd_f2", "shortcut")


@contextmanager
def _without(change: str, base: str = "HEAD"):
    """Build (and first run) an engine without ``change`` inside this block."""
    if change == "gemm_rows":
        few = gemm_op._few_rows
        gemm_op._few_rows = lambda *args: None
        try:
            yield
        finally:
            gemm_op._few_rows = few
    elif change == "sources":
        sources = native._SOURCES
        with tempfile.TemporaryDirectory() as tmp:
            repo = Path(__file__).resolve().parent.parent
            path = "src/jiasu/kernels/native"
            archive = subprocess.run(["git", "-C", str(repo), "archive", base, path], capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            # the chain runner is not under test, and older ones lack what runtime/chain.py binds
            shutil.copy(sources / "chain.c", Path(tmp) / path / "chain.c")
            native._SOURCES, native._loaded = Path(tmp) / path, {}
            try:
                yield
            finally:
                native._SOURCES, native._loaded = sources, {}
    elif change == "winograd_product":
        Winograd.native_product = False
        try:
            yield
        finally:
            Winograd.native_product = True
    elif change == "winograd_f2":
        tiles = heuristic.WINOGRAD_F2_TILES
        heuristic.WINOGRAD_F2_TILES = 0
        try:
            yield
        finally:
            heuristic.WINOGRAD_F2_TILES = tiles
    elif change == "nhwc_gemm":
        algo = get_algorithm("nhwc_gemm")
        algo.check = lambda spec: "off for the comparison"
        try:
            yield
        finally:
            del algo.check
    else:
        yield


@contextmanager
def _with(change: str):
    """Build (and first run) an engine with ``change`` inside this block, where it is not the default."""
    if change != "winograd_f6":
        yield
        return
    choose = heuristic._winograd

    def f6(spec, input_size, batch=None):
        name = choose(spec, input_size, batch)
        return "winograd_f6" if name == "winograd" and min(input_size) >= 14 else name

    heuristic._winograd = f6
    try:
        yield
    finally:
        heuristic._winograd = choose


def _engine(model: str, batch: int, threads: int, change: str, on: bool):
    compiled = compile_model(f"zoo:{model}", batch=batch, threads=threads, tune_algorithms=False)
    engine, feeds = compiled.engine, {k: np.asarray(v) for k, v in example_feeds(compiled.model, batch=batch).items()}
    if not on and change == "chains":
        engine._forward_for = lambda args: (engine._forward, None)
    if not on and change == "classifier_tail":
        for step in engine.steps:
            if step.kernel.node.op_type == "Flatten":
                step.kernel._transposes = lambda x: False
            if step.kernel.node.op_type == "Softmax":
                step.kernel.native = False
    if not on and change == "concat":
        for step in engine.steps:
            if step.kernel.node.op_type == "Concat":
                step.kernel._native_applies = lambda xs: False
    for _ in range(3):  # per-shape plans, weight packing, chains
        out = engine.run(feeds)
        engine.run_numpy(feeds)
    if not on and change == "shortcut":
        engine._fast = False
    return engine, feeds, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("batch", type=int)
    parser.add_argument("change", choices=CHANGES)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--base", default="HEAD", help="for sources: the git revision whose C kernels run without the change")
    args = parser.parse_args()

    with _without(args.change, args.base):
        off = _engine(args.model, args.batch, args.threads, args.change, on=False)
    with _with(args.change):
        on = _engine(args.model, args.batch, args.threads, args.change, on=True)
    if args.change == "sources":
        for engine, feeds, _ in (off, on):
            if [len(c) for c in engine.chains(feeds)] != [len(engine.steps)]:
                raise SystemExit(f"sources: {args.model} at batch {args.batch} is not one chain here, so the engine built "
                                 "with the other sources would run this checkout's kernels in its Python steps; pick another")
    worst = max(((off[2][k] - on[2][k]).abs().max() / off[2][k].abs().max().clamp_min(1e-30)).item() for k in off[2])
    chains = [len(c) for c in on[0].chains(on[1])]
    print(f"{args.model} batch {args.batch}, {args.change}: outputs differ by at most {worst:.1e} (relative to max |y|); "
          f"chains with it: {chains} of {len(on[0].steps)} steps")
    times: list[list[float]] = [[], []]
    end = time.perf_counter() + args.seconds
    while time.perf_counter() < end:
        for i, (engine, feeds, _) in enumerate((off, on)):
            t0 = time.perf_counter()
            engine.run_numpy(feeds)
            times[i].append((time.perf_counter() - t0) * 1e3 / args.batch)
    for name, t in zip(("without", "with"), times):
        s = sorted(t)
        print(f"  {name:8s} runs {len(t)}  ms per image: min {s[0]:.3f}  p10 {s[len(s) // 10]:.3f}  median {statistics.median(t):.3f}")
    print(f"  paired median ratio without / with: {statistics.median(a / b for a, b in zip(*times)):.3f}")


if __name__ == "__main__":
    main()
