"""Turn `jiasu bench` stores into the tables and figures of RESULTS.md ("Backends" sections).

    python benchmarks/backends_tables.py benchmarks/results/smallcnn.jsonl benchmarks/results/imagenet.jsonl \
        [--figures benchmarks/figures]

For each model: one row per configuration, one column per batch size, each cell
the median ms per image with images/s in parentheses; `!` marks a result that is
not ok (listed under the table with its error). The last columns are the largest
relative L2 error against ONNX Runtime and the compile + first-run seconds at the
smallest batch. Then one line per sweep: when, load average at its start, GEMM peak.
With --figures, every plot of every model is written there as PNG.
"""

from __future__ import annotations

import argparse

from jiasu.bench.store import load
from jiasu.report import save_figures


def cell(r) -> str:
    if r is None:
        return ""
    if not r.timed:
        return r.status
    return f"{r.per_image_ms:.3g} ({r.throughput_per_s:,.0f})" + ("" if r.status == "ok" else " !")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stores", nargs="+")
    parser.add_argument("--figures", help="directory for the PNG plots")
    args = parser.parse_args()
    store = load(args.stores)
    results = store.latest()
    for model in dict.fromkeys(r.model for r in results):
        mine = [r for r in results if r.model == model]
        batches = sorted({r.batch for r in mine})
        print(f"\n**{model}**: ms per image, median (images/s)\n")
        print("| configuration | " + " | ".join(f"batch {b}" for b in batches) + " | max rel. L2 | compile + first run s |")
        print("|---|" + "---:|" * len(batches) + "---:|---:|")
        problems = []
        for config in dict.fromkeys(r.configuration for r in mine):
            by_batch = {r.batch: r for r in mine if r.configuration == config}
            errors = [r.rel_l2 for r in by_batch.values() if isinstance(r.rel_l2, float)]
            first = by_batch.get(batches[0])
            setup = f"{first.compile_s + (first.first_run_s or 0):.2f}" if first and first.compile_s is not None else ""
            err = f"{max(errors):.0e}" if errors else ""
            print(f"| {config} | " + " | ".join(cell(by_batch.get(b)) for b in batches) + f" | {err} | {setup} |")
            problems += [f"- {r.configuration} at batch {r.batch}: {r.status}: {r.error}" for r in by_batch.values() if r.status != "ok"]
        if problems:
            print("\n" + "\n".join(problems))
    print()
    for run_id in dict.fromkeys(r.run_id for r in results):
        run = store.runs[run_id]
        env = run["environment"]
        peak = env.get("gemm_peak")
        print(
            f"- run {run_id}: {run['model']}, {', '.join(run['configurations'])}; {run['started_at']} to {run.get('finished_at', '?')}; "
            f"load average {env['load_average_1m']} at start" + (f"; GEMM peak {peak['gflops']} GFLOP/s" if peak else "")
        )
    if args.figures:
        for path in save_figures(results, args.figures):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
