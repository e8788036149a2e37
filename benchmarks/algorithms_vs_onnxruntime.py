"""Per-image time of each jiasu conv algorithm vs ONNX Runtime on whole zoo models.

    python benchmarks/algorithms_vs_onnxruntime.py [--models resnet18,smallcnn] [--batch 1,8] [--threads 2] [--repeats 20]

Every configuration runs the same exported ONNX model on the same feeds, with
the same thread count. ONNX Runtime: CPU provider, ORT_ENABLE_ALL, intra-op
threads = --threads, inter-op 1, sequential execution. Prints a Markdown table
(median ms per image; in brackets the ratio to ONNX Runtime, > 1 = slower).
"""

from __future__ import annotations

import argparse
import datetime
import platform

import numpy as np
import onnxruntime
import torch

import jiasu
from jiasu.bench import measure
from jiasu.kernels.conv import CONV_ALGORITHMS
from jiasu.runtime.reference import onnxruntime_session, relative_l2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet18,smallcnn")
    ap.add_argument("--batch", default="1,8")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    batches = [int(b) for b in args.batch.split(",")]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    print(f"{datetime.date.today()}, {cpu}, {args.threads} threads, torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, "
          f"median of {args.repeats} runs after 3 warm-up\n")
    algos = list(CONV_ALGORITHMS)
    print("| model | batch | onnxruntime | " + " | ".join(algos) + " |")
    print("|---|---|---" + "|---" * len(algos) + "|")
    for name in args.models.split(","):
        model = jiasu.load(f"zoo:{name}")
        session = onnxruntime_session(model, threads=args.threads)
        for batch in batches:
            feeds = jiasu.example_feeds(model, batch=batch)
            ref = session.run(None, feeds)
            ort_t = measure(lambda: session.run(None, feeds), repeats=args.repeats, warmup=3).per_item(batch)
            cells = []
            for algo in algos:
                engine = jiasu.Engine(model, conv_algorithm=algo)
                used = sum(c.choice == algo for c in engine.algorithm_report())
                if algo != "direct" and used == 0:
                    cells.append("n/a")
                    continue
                out = list(engine.run_numpy(feeds).values())
                err = max(relative_l2(o, r) for o, r in zip(out, ref))
                t = measure(lambda: engine.run(feeds), repeats=args.repeats, warmup=3).per_item(batch)
                cells.append(f"{t * 1e3:.3f} ({t / ort_t:.2f}x; {used} convs; err {err:.0e})")
            print(f"| {name} | {batch} | {ort_t * 1e3:.3f} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
