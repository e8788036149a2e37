"""Our engine on CUDA with and without CUDA graphs, beside PyTorch eager on the same GPU (issue #5, item 4).

    python benchmarks/cuda_graph.py [--models smallcnn,mobilenet_v2,resnet18,resnet50] [--batches 1,8,64]
                                    [--seconds 2] [--out FILE.jsonl]

For each model and batch: the engine with ``cuda_graph=False`` (each run launches every kernel from Python), the
engine with graphs (captured on the first run, replayed after), and the zoo's torch module in eager mode, all on
one GPU in one process, feeds already on the device. Runs alternate between the three, ``torch.cuda.synchronize()``
after each; the figure is each one's median per-image time, and the ratio is without graphs over with. Outputs are
checked against each other (max relative difference printed).

Needs a CUDA device: on a machine without one it says so and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


def main() -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="smallcnn,mobilenet_v2,resnet18,resnet50")
    parser.add_argument("--batches", default="1,8,64")
    parser.add_argument("--seconds", type=float, default=2.0, help="timed seconds per model and batch (all three together)")
    parser.add_argument("--out", default="", help="append one JSON line per model and batch to this file")
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N; cpu only checks this script (no graphs there)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(f"benchmarks/cuda_graph.py needs a CUDA device; torch {torch.__version__} sees none", file=sys.stderr)
        return 2

    import jiasu
    from jiasu.frontends.inputs import example_feeds
    from jiasu.passes import optimize
    from jiasu.zoo import get as zoo_module

    on_gpu = device.type == "cuda"
    sync = torch.cuda.synchronize if on_gpu else (lambda: None)
    device_name = torch.cuda.get_device_name(device) if on_gpu else "cpu"
    print(f"# {device_name}, torch {torch.__version__}, CUDA {torch.version.cuda}, jiasu {jiasu.__version__}")
    print(f"{'model':14} {'batch':>5} {'no graph':>10} {'graph':>10} {'torch':>10} {'ratio':>6}  captures  max rel diff")
    for name in args.models.split(","):
        module = zoo_module(name).eval().to(device)  # the weights jiasu.load("zoo:NAME") exports (seed 0)
        optimized, _ = optimize(jiasu.load(f"zoo:{name}"))
        plain = jiasu.Engine(optimized, device=args.device, cuda_graph=False)
        graphed = jiasu.Engine(optimized, device=args.device)
        for batch in map(int, args.batches.split(",")):
            feeds = {k: torch.from_numpy(v).to(device) for k, v in example_feeds(optimized, batch=batch).items()}
            (x,) = feeds.values()
            runs = {
                "no graph": lambda: plain.run(feeds),
                "graph": lambda: graphed.run(feeds),
                "torch": lambda: module(x),
            }
            with torch.inference_mode():
                outs = {k: run() for k, run in runs.items()}  # the first runs: warm-up, and the graph's capture
                outs = {k: run() for k, run in runs.items()}
            first = lambda o: o if isinstance(o, torch.Tensor) else next(iter(o.values()))  # noqa: E731
            ref = first(outs["no graph"]).float()
            diff = max((first(o).float() - ref).abs().max().item() / max(ref.abs().max().item(), 1e-30) for o in outs.values())
            times = {k: [] for k in runs}
            end = time.perf_counter() + args.seconds
            with torch.inference_mode():
                while time.perf_counter() < end or len(times["graph"]) < 5:
                    for k, run in runs.items():
                        sync()
                        start = time.perf_counter()
                        run()
                        sync()
                        times[k].append((time.perf_counter() - start) * 1e3 / batch)
            med = {k: statistics.median(v) for k, v in times.items()}
            report = graphed.graph_report() or {"captured": 0, "refused": {}}
            print(
                f"{name:14} {batch:5d} {med['no graph']:10.4f} {med['graph']:10.4f} {med['torch']:10.4f} "
                f"{med['no graph'] / med['graph']:5.2f}x  {report['captured']:8d}  {diff:.1e}"
                + (f"  refused: {report['refused']}" if report["refused"] else "")
            )
            if args.out:
                with open(args.out, "a") as f:
                    f.write(json.dumps({"model": name, "batch": batch, "ms_per_image": med, "runs": len(times["graph"]),
                                        "max_rel_diff": diff, "graphs": report, "device": device_name,
                                        "torch": torch.__version__}) + "\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
