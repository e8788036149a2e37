"""One engine's speed turn by turn, as `jiasu bench --rounds` takes its turns, and where a slow turn's time goes
(issue #5, session 18).

    python benchmarks/turn_speeds.py [MODEL] [BATCH] [--turns 30] [--runs 100] [--sleep 0.05] [--threads 2]

The engine runs the heuristic's plan of the zoo model. Each turn sleeps ``--sleep`` seconds (the bench's pause
between turns), runs once untimed, times ``--runs`` runs through ``run_numpy`` and then takes each C call's best of
10 whole runs (``Engine.chain_times``). Turns print sorted by their median, with the C calls' times beside it, so
that turns of two speeds show as two groups, and which calls slow down in the slow ones. Also prints the host's
steal time over the turns (/proc/stat), so a slow turn that is the hypervisor's shows as such. On session 18's
2-vCPU host, smallcnn at batch 1 turned in 0.60-0.67 or 1.08-1.39 ms, every call that computes about 2x slower
in the slow turns, steal 0-2 ticks.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def steal_ticks() -> int:
    try:
        with open("/proc/stat") as f:
            return int(f.readline().split()[8])
    except (OSError, IndexError, ValueError):  # not Linux: nothing to show
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default="smallcnn")
    parser.add_argument("batch", nargs="?", type=int, default=1)
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--sleep", type=float, default=0.05)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from jiasu.frontends.inputs import example_feeds
    from jiasu.plan import compile_model

    compiled = compile_model(f"zoo:{args.model}", batch=args.batch, threads=args.threads, tune_algorithms=False)
    engine = compiled.engine
    feeds = {k: np.asarray(v) for k, v in example_feeds(compiled.model, batch=args.batch).items()}
    for _ in range(20):
        engine.run_numpy(feeds)
    turns, steal = [], steal_ticks()
    for _ in range(args.turns):
        time.sleep(args.sleep)
        engine.run_numpy(feeds)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            engine.run_numpy(feeds)
            times.append(time.perf_counter() - start)
        calls = {row["node"]: row["ms"] for row in engine.chain_times(feeds, repeats=10)}
        turns.append((statistics.median(times) * 1e3, calls))
    steal = steal_ticks() - steal
    turns.sort(key=lambda t: t[0])
    names = list(turns[0][1])
    print(f"{args.model} at batch {args.batch}, {args.threads} threads: {args.turns} turns of {args.runs} runs; "
          f"host steal time over them: {steal} ticks")
    print("turn median ms | best of 10 per C call, ms: " + ", ".join(names))
    for median, calls in turns:
        print(f"{median:8.3f}       | " + " ".join(f"{calls.get(n, float('nan')):.3f}" for n in names))


if __name__ == "__main__":
    main()
