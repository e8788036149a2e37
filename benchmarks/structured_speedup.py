"""Structured pruning that halves a model's MACs: accuracy after retraining, speed-up on every engine (issue #7).

    python benchmarks/structured_speedup.py [--model smallcnn|resnet18] [--variants 0.3,0.3/8,0.25/8/global] [--epochs 5] [--threads 2]

``--model smallcnn`` (the default) starts from the bundled ``zoo:smallcnn?weights=fashion-mnist`` (90.33% on
the 10,000 test images). ``--model resnet18`` starts from ``zoo:resnet18`` for 28x28 grey images, trained
2 epochs on the 60,000 training images by ``optimize_fashion_mnist.py`` (its cached checkpoint is reused,
else it is trained first, about 6 minutes). Each variant
``RATIO[/ROUND_TO[/global]]`` removes RATIO of the channels (Torch-Pruning, L1 importance; the same ratio in every
layer, or ranked across layers with ``global``; widths rounded to multiples of ROUND_TO), retrains on the 60,000 training images (Adam 1e-3, cosine decay, batch 64, seed 0,
the retraining ``jiasu optimize`` uses) and scores the 10,000 test images. Then the dense model and every pruned
one run, each on our engine (default plan: graph passes, oneDNN convs), ONNX Runtime (all graph optimizations) and
OpenVINO (``INFERENCE_PRECISION_HINT=f32``), at batch 1 and 64 and ``--threads`` threads, all in one process and
timed by ``jiasu.bench.timing.interleaved`` (7 rounds; the best round's mean per call). The speed-up of a pruned
model is the dense model's time on the same engine and batch over its own.

Writes ``benchmarks/results/prune/structured_speedup.json`` (smallcnn) or ``structured_speedup_resnet18.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

import jiasu
from jiasu.bench.timing import interleaved
from jiasu.compress.prune import count_macs_params, prune_channels
from jiasu.data import fashion_mnist as fm
from jiasu.frontends import export_module
from jiasu.passes import optimize
from jiasu.recommend.build import load_source
from jiasu.train import evaluate, fit


def widths(module: torch.nn.Module) -> list[int]:
    """Output widths of the convs and hidden linear layers, in order, runs of one width written once (resnet18's stages)."""
    layers = [m for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))][:-1]  # not the classifier
    out = [m.out_channels if isinstance(m, torch.nn.Conv2d) else m.out_features for m in layers]
    return [w for i, w in enumerate(out) if i == 0 or w != out[i - 1]]


def dense_model(name: str, threads: int) -> tuple[torch.nn.Module, torch.Tensor]:
    if name == "smallcnn":
        src = load_source("zoo:smallcnn?weights=fashion-mnist")
        return src.module, src.example
    from optimize_fashion_mnist import train_resnet18  # this folder is on sys.path when run as a script

    saved = torch.load(train_resnet18(Path.home() / ".cache" / "jiasu" / "benchmarks", 2, threads), weights_only=False)
    return saved["module"].eval(), saved["example_input"]


def main() -> None:
    import onnxruntime as ort
    import openvino as ov

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=("smallcnn", "resnet18"), default="smallcnn")
    ap.add_argument("--variants", default="0.3,0.3/8,0.25/8/global", help="comma-separated RATIO[/ROUND_TO[/global]]")
    ap.add_argument("--epochs", type=int, default=5, help="retraining epochs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None, help="default: benchmarks/results/prune/structured_speedup[_MODEL].json")
    args = ap.parse_args()
    args.out = args.out or "benchmarks/results/prune/structured_speedup" + ("" if args.model == "smallcnn" else f"_{args.model}") + ".json"
    torch.set_num_threads(args.threads)
    dense, example = dense_model(args.model, args.threads)
    train, test = fm.load("train"), fm.load("test")
    dense_macs, dense_params = count_macs_params(dense, example)
    models = {"dense": dense}
    info = {"dense": {"accuracy": evaluate(dense, test).accuracy, "macs": dense_macs, "params": dense_params, "widths": widths(dense)}}
    print(f"dense: {info['dense']}", flush=True)
    for variant in args.variants.split(","):
        ratio, round_to, ranking = (variant.split("/") + ["0", ""])[:3]
        ratio, round_to, ranking = float(ratio), int(round_to), ranking == "global"
        tag = f"channels -{ratio:.0%}" + (f", round_to={round_to}" if round_to else "") + (", global ranking" if ranking else "")
        m = copy.deepcopy(dense)
        prune_channels(m, example, ratio, round_to=round_to or None, global_ranking=ranking)
        macs, params = count_macs_params(m, example)
        t0 = time.perf_counter()
        fit(m.train(), train, None, epochs=args.epochs, lr=1e-3, schedule="cosine", batch_size=64, num_workers=0, seed=0, progress=False)
        models[tag] = m.eval()
        info[tag] = {"accuracy": evaluate(m, test).accuracy, "macs": macs, "params": params, "retrain_s": time.perf_counter() - t0,
                     "widths": widths(m)}
        print(f"{tag}: {info[tag]}", flush=True)

    core, live, fns = ov.Core(), [], {}
    images = test.images[:64].numpy()
    for tag, module in models.items():
        onnx = export_module(module, example)
        for batch in (1, 64):
            x = np.ascontiguousarray(images[:batch])
            engine = jiasu.Engine(optimize(jiasu.load(onnx))[0], conv_algorithm="auto", threads=args.threads)
            fns[(tag, "jiasu", batch)] = lambda e=engine, x=x: e.run({"input": x})
            options = ort.SessionOptions()
            options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
            session = ort.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])
            fns[(tag, "onnxruntime", batch)] = lambda s=session, x=x: s.run(None, {"input": x})
            model = core.read_model(model=onnx, weights=b"")
            model.reshape([batch, 1, 28, 28])
            request = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": args.threads}).create_infer_request()
            fns[(tag, "openvino", batch)] = lambda r=request, x=x: r.infer([x])
            live += [engine, session, request]
    keys = list(fns)
    samples = interleaved({str(k): fns[k] for k in keys}, rounds=7, block_s=0.2, settle_s=0.05)
    best = {k: min(samples[str(k)]) / k[2] for k in keys}  # seconds per image
    rows = []
    print(f"\n{args.threads} threads; ms per image (speed-up over the dense model on the same engine and batch)\n")
    print("| model | widths | MACs | accuracy (drop) | " + " | ".join(f"{e} b{b}" for e in ("jiasu", "onnxruntime", "openvino") for b in (1, 64)) + " |")
    print("|---|---|---:|---|" + "---:|" * 6)
    for tag in models:
        i = info[tag]
        cells = []
        for engine in ("jiasu", "onnxruntime", "openvino"):
            for batch in (1, 64):
                t, t0 = best[(tag, engine, batch)], best[("dense", engine, batch)]
                cells.append(f"{t * 1e3:.4f} ({t0 / t:.2f}x)")
                rows.append({"model": tag, "engine": engine, "batch": batch, "ms_per_image": t * 1e3, "speedup": t0 / t})
        drop = 100 * (i["accuracy"] - info["dense"]["accuracy"])
        print(f"| {tag} | {i['widths']} | {i['macs'] / 1e6:.2f} M ({i['macs'] / dense_macs:.0%}) | {100 * i['accuracy']:.2f}% ({drop:+.2f}) | " + " | ".join(cells) + " |")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                   "versions": {"jiasu": jiasu.__version__, "torch": torch.__version__, "openvino": ov.__version__, "onnxruntime": ort.__version__},
                   "args": vars(args), "models": info, "rows": rows, "load": os.getloadavg()[0]}, f, indent=1)


if __name__ == "__main__":
    main()
