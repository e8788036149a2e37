"""Multi-core strategies on this machine: latency at batch 1, throughput on a stream, and the data pipeline.

    python benchmarks/parallel_strategies.py [--quick] [--out benchmarks/results/parallel.json]

For resnet18 and googlenet (224x224, after jiasu's graph passes): batch-1 latency
and a 512-image stream (chunks of 32) under every strategy and policy on 2
workers, against one thread and against torch's own intra-op threads, and the
mixed plan (which measures these and keeps the fastest) against the best of them. smallcnn
at batch 1..256. Then resnet18 streamed from JPEG and PNG files decoded in the
background vs the same batches pre-decoded. Every figure carries the 1-minute
load average read right after it was measured: on a shared machine, compare
ratios within a row, not figures across runs. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from datetime import datetime, timezone

import numpy as np
import torch

import jiasu
from jiasu.bench.stream import stream_throughput, write_images
from jiasu.passes import optimize
from jiasu.runtime.parallel import StrategyError, candidate_label, make_runner, step_costs

WORKERS = 2


def strategies(micro_batch: int) -> list[tuple[str, dict]]:
    return [
        ("sequential", {}),
        ("intra_op", {}),
        ("batch", {}),
        ("pipeline", {"micro_batch": micro_batch}),
        ("spatial", {}),
        ("spatial", {"tail_threads": 1}),
        ("inter_op", {"policy": "fifo"}),
        ("inter_op", {"policy": "small_first"}),
        ("inter_op", {"policy": "critical_path"}),
    ]


def load_engine(name: str, **options) -> jiasu.Engine:
    model = jiasu.load(f"zoo:{name}", **options)
    optimize(model)
    return jiasu.Engine(model)


def time_case(engine, costs, feeds_list, cands, rounds, block_s=0.1, settle_s=0.02) -> dict:
    """Seconds per pass over ``feeds_list`` for every candidate and the mixed plan.

    Timed with :func:`jiasu.bench.timing.interleaved`, the timer the mixed plan
    chooses with: ``rounds`` rounds, each visiting every runner in a shuffled
    order, with ``settle_s`` of untimed passes before ``block_s`` of timed ones
    (at least one of each; none untimed when ``settle_s`` is 0). The median
    over rounds counts; the load average is read after each case.
    """
    from jiasu.bench.timing import interleaved

    rows, runners = {}, {}
    reference = engine.run_numpy(feeds_list[0])
    for name, options in cands + [("mixed", {"candidates": cands})]:
        label = "mixed" if name == "mixed" else candidate_label(name, options)
        try:
            runner = make_runner(engine, name, WORKERS, costs=costs, **options)
            out = runner.run(feeds_list[0])  # warm-up (and, for mixed, the choice)
        except StrategyError as e:
            rows[label] = {"not_applicable": str(e)}
            continue
        err = max(float(np.abs(out[k].numpy() - v).max()) for k, v in reference.items())
        rows[label] = {"max_abs_err": err}
        if name == "mixed":
            rows[label]["chosen"] = list(runner.describe()["chosen"].values())
            # what the choice saw: seconds per call of each candidate (or why it does not apply)
            rows[label]["choice_timings"] = [timings for _, timings in runner.choices.values()]
        runners[label] = runner

    def one_pass(runner):
        for f in feeds_list:
            runner.run(f)

    samples = interleaved({label: (lambda r=runner: one_pass(r)) for label, runner in runners.items()},
                          rounds=rounds, block_s=block_s, settle_s=settle_s)
    load = os.getloadavg()[0]
    for label, runner in runners.items():
        r = rows[label]
        r["samples"] = samples[label]
        r["seconds"] = float(np.median(samples[label]))
        r["load"] = load
        runner.close()
        print(f"  {label}: {r}", file=sys.stderr, flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="64x64 images and 64-image streams (a smoke run)")
    ap.add_argument("--out", default="benchmarks/results/parallel_strategies.json")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: latency,stream,smallcnn,data")
    ap.add_argument("--data-repeats", type=int, default=1, help="interleaved passes per kind in the data pipeline (best counts)")
    ap.add_argument("--no-serial", action="store_true", help="skip the decode-then-compute pass of the data pipeline")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    size = 64 if args.quick else 224
    stream_images = 64 if args.quick else 512
    chunk = 32
    results: dict = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "jiasu": getattr(jiasu, "__version__", "?")},
        "image_size": size,
        "cases": {},
    }
    for name in ("resnet18", "googlenet"):
        engine = load_engine(name, image_size=size)
        costs = step_costs(engine, jiasu.example_feeds(engine.model, batch=1))
        if "latency" not in skip:
            print(f"{name} batch 1", file=sys.stderr)
            feeds = [jiasu.example_feeds(engine.model, batch=1)]
            results["cases"][f"{name} batch 1 latency"] = {"images": 1, "rows": time_case(engine, costs, feeds, strategies(1), 10)}
        if "stream" not in skip:
            print(f"{name} stream", file=sys.stderr)
            feeds = [jiasu.example_feeds(engine.model, batch=chunk, seed=k) for k in range(stream_images // chunk)]
            results["cases"][f"{name} stream of {stream_images}"] = {
                "images": stream_images, "rows": time_case(engine, costs, feeds, strategies(8), 2, block_s=0, settle_s=0)}
    if "smallcnn" not in skip:
        engine = load_engine("smallcnn")
        costs = step_costs(engine, jiasu.example_feeds(engine.model, batch=1))
        for batch in (1, 4, 16, 64, 256):
            print(f"smallcnn batch {batch}", file=sys.stderr)
            feeds = [jiasu.example_feeds(engine.model, batch=batch)]
            results["cases"][f"smallcnn batch {batch}"] = {
                "images": batch, "rows": time_case(engine, costs, feeds, strategies(max(1, batch // 8)), 10)}
    if "data" not in skip:
        engine = load_engine("resnet18", image_size=size)
        results["data_pipeline"] = {}
        with tempfile.TemporaryDirectory() as tmp:
            for fmt in ("jpeg", "png"):
                paths = write_images(os.path.join(tmp, fmt), stream_images, size, fmt)
                for strategy in ("batch",):
                    runner = make_runner(engine, strategy, WORKERS)
                    r = stream_throughput(runner, paths, chunk, workers=1, prefetch=2, repeats=args.data_repeats, serial=not args.no_serial)
                    results["data_pipeline"][f"{fmt} {strategy}"] = {**r.to_dict(), "load": os.getloadavg()[0]}
                    print(f"  data {fmt} {strategy}: {results['data_pipeline'][f'{fmt} {strategy}']}", file=sys.stderr, flush=True)
                    runner.close()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print(markdown(results))


def markdown(results: dict) -> str:
    labels = [candidate_label(n, o) for n, o in strategies(1)]
    short = {l: l.replace("inter_op:policy=", "inter_op ").replace(":tail_threads=1", " (1-thread tail)") for l in labels}
    lines = ["| case | " + " | ".join(l.split(":")[0] if "pipeline" in l else short[l] for l in labels)
             + " | mixed (chosen) | mixed / best single | load avg |",
             "|---|" + "---|" * (len(labels) + 3)]
    for case, data in results["cases"].items():
        rows = data["rows"]
        by_prefix = {k.split(":micro_batch")[0] if k.startswith("pipeline") else k: v for k, v in rows.items()}
        base = rows["sequential"]["seconds"]
        cells, loads, best = [], [], 0.0
        for l in labels:
            key = l.split(":micro_batch")[0] if l.startswith("pipeline") else l
            r = by_prefix.get(key, {})
            if "seconds" in r:
                cells.append(f"{data['images'] / r['seconds']:.1f} img/s ({base / r['seconds']:.2f}x)")
                best = max(best, data["images"] / r["seconds"])
                loads.append(r["load"])
            else:
                cells.append("n/a")
        m = rows.get("mixed", {})
        mixed = f"{data['images'] / m['seconds']:.1f} ({base / m['seconds']:.2f}x, {m['chosen'][0]})" if "seconds" in m else "n/a"
        loads.append(m.get("load", float("nan")))
        ratio = f"{data['images'] / m['seconds'] / best:.2f}" if "seconds" in m and best else "n/a"
        lines.append(f"| {case} | " + " | ".join(cells) + f" | {mixed} | {ratio} | {min(loads):.1f}-{max(loads):.1f} |")
    if "data_pipeline" in results:
        lines += ["", "| files | strategy | compute only img/s | streamed (background decode) img/s | ratio | decode-then-compute img/s | load avg |",
                  "|---|---|---|---|---|---|---|"]
        for k, r in results["data_pipeline"].items():
            fmt, strat = k.split()
            lines.append(f"| {fmt} | {strat} | {r['compute_images_per_s']:.1f} | {r['stream_images_per_s']:.1f} | {r['ratio']:.1%} | "
                         f"{r['serial_images_per_s'] or float('nan'):.1f} | {r['load']:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
