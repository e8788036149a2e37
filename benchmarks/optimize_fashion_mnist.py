"""`jiasu optimize` on real data: the bundled smallcnn, and resnet18 trained on Fashion-MNIST (issue #9).

1. ``--model smallcnn``: the bundled ``zoo:smallcnn?weights=fashion-mnist`` (trained on all 60,000
   images, see train_pretrained.py), searched on the full Fashion-MNIST: retraining and calibration
   on the training split, accuracy on the first ``--val-limit`` test images.
2. ``--model resnet18``: ``zoo:resnet18?num_classes=10&image_size=28&in_channels=1`` (the ImageNet
   layer structure on 28x28x1 input) trained here for ``--epochs`` on all 60,000 training images
   (cached in ``--cache``; jiasu-saved ``.pt``, which ``jiasu optimize`` takes), then searched.

Every run writes its output directory under ``--cache`` and copies result.json, recipe.yaml and
report.html to ``benchmarks/results/optimize/<name>/`` (the models themselves are not committed).
The run's final comparison (candidates, the original, ONNX Runtime and OpenVINO FP32 defaults and
ONNX Runtime's stock INT8 on both) is one interleaved measurement; the figures in RESULTS.md come
from it.

Run: ``python benchmarks/optimize_fashion_mnist.py --model resnet18 --scenario latency --batch 1``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results" / "optimize"
RESNET = "zoo:resnet18?num_classes=10&image_size=28&in_channels=1"


def train_resnet18(cache: Path, epochs: int, threads: int) -> Path:
    from jiasu.data import load_data
    from jiasu.frontends import zoo_model_and_input
    from jiasu.train import evaluate, fit

    path = cache / f"resnet18_fmnist_e{epochs}.pt"
    if path.exists():
        return path
    torch.set_num_threads(threads)
    module, example = zoo_model_and_input(RESNET)
    train, test = load_data("fashion-mnist", "train"), load_data("fashion-mnist", "test")
    start = time.perf_counter()
    fit(module.train(), train, None, epochs=epochs, lr=1e-3, batch_size=128, schedule="cosine", num_workers=1, seed=0, description="resnet18")
    accuracy = evaluate(module, test).accuracy
    print(f"resnet18 trained {epochs} epochs in {time.perf_counter() - start:.0f} s: {accuracy:.2%} on the 10,000 test images")
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"module": module.eval(), "example_input": example, "test_accuracy": accuracy}, path)
    return path


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("smallcnn", "resnet18"), default="smallcnn")
    p.add_argument("--scenario", default="latency")
    p.add_argument("--batch", type=int, default=0)
    p.add_argument("--data", default="fashion-mnist")
    p.add_argument("--epochs", type=int, default=2, help="resnet18 training epochs")
    p.add_argument("--trials", type=int, default=40)
    p.add_argument("--time-budget", type=float, default=1800.0, help="seconds")
    p.add_argument("--train-limit", type=int, default=20000, help="retraining images per pruned candidate")
    p.add_argument("--val-limit", type=int, default=2000)
    p.add_argument("--finetune-epochs", default="1,2")
    p.add_argument("--max-accuracy-drop", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=2, help="torch threads for training resnet18")
    p.add_argument("--final-rounds", type=int, default=5)
    p.add_argument("--min-time", type=float, default=0.5, help="seconds per timing")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "jiasu" / "benchmarks")
    p.add_argument("--name", default=None)
    p.add_argument("--backends", default=None, help="comma-separated (default: installed ones)")
    p.add_argument("--precisions", default=None, help="comma-separated (default: all)")
    p.add_argument("--prune", default=None, help="comma-separated pruning methods (default: all)")
    p.add_argument("--teacher", default="", help="teacher of distilled retraining, e.g. zoo:resnet20?weights=fashion-mnist (default: the original model)")
    args = p.parse_args(argv)

    from jiasu.recommend import optimize

    model = "zoo:smallcnn?weights=fashion-mnist" if args.model == "smallcnn" else str(train_resnet18(args.cache, args.epochs, args.threads))
    name = args.name or f"{args.model}-{args.scenario}-b{args.batch or 'default'}"
    out = args.cache / "optimize" / name
    result = optimize(
        model, args.data, output_dir=out, scenario=args.scenario, batch=args.batch, max_accuracy_drop=args.max_accuracy_drop,
        trials=args.trials, time_budget_s=args.time_budget, train_limit=args.train_limit, val_limit=args.val_limit,
        finetune_epochs=tuple(int(e) for e in args.finetune_epochs.split(",")), progress=True, final_rounds=args.final_rounds, min_time_s=args.min_time,
        backends=args.backends and args.backends.split(","), precisions=args.precisions and args.precisions.split(","), prune=args.prune and args.prune.split(","),
        teacher=args.teacher,
    )
    dest = RESULTS / name
    dest.mkdir(parents=True, exist_ok=True)
    for f in ("result.json", "recipe.yaml", "report.html", "closest-recipe.yaml"):
        if (out / f).exists():
            shutil.copy(out / f, dest / f)
    print(json.dumps({"chosen": result.chosen and result.chosen["label"], "reasons": result.data["reasons"], "elapsed_s": result.data["elapsed_s"]}, indent=1))
    return result.data


if __name__ == "__main__":
    main()
