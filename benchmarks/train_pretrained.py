"""Train the weights bundled with jiasu: ``zoo:smallcnn?weights=fashion-mnist``.

Trains smallcnn adapted to Fashion-MNIST (28x28x1, 10 classes, padding=2) on all 60,000 training
images with ``jiasu.train.fit`` (Adam, cosine schedule, seed 0), measures top-1 accuracy on all 10,000
test images and on the bundled 1,000-image test subset, and writes
``src/jiasu/zoo/weights/smallcnn-fashion-mnist.npz`` in the format ``jiasu.zoo`` reads: the state_dict
as float32 arrays plus ``__options__`` and ``__meta__``, JSON strings stored as 0-d arrays.

The inputs are what ``jiasu.data.load_data("fashion-mnist")`` gives: pixels / 255, then standardised
by the training set's mean and std (``jiasu.data.fashion_mnist.MEAN``/``STD``); the weights expect
the same normalisation at inference time.

Run: ``python benchmarks/train_pretrained.py [--epochs 4] [--threads 2] [--out PATH]`` (a few minutes
on two cores). The full dataset is found as ``jiasu.data.fashion_mnist.find`` says.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from jiasu import zoo
from jiasu.data import fashion_mnist as fm
from jiasu.data import load_data
from jiasu.train import evaluate, fit

MODEL = "smallcnn"
TAG = "fashion-mnist"
OPTIONS = dict(num_classes=10, image_size=28, padding=2, in_channels=1)
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "jiasu" / "zoo" / "weights" / f"{MODEL}-{TAG}.npz"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--workers", type=int, default=1, help="DataLoader worker processes")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = p.parse_args(argv)

    torch.set_num_threads(args.threads)
    train = load_data("fashion-mnist", "train")
    test = load_data("fashion-mnist", "test")
    subset_test = load_data("fashion-mnist-subset", "test")

    model = zoo.get(MODEL, seed=args.seed, **OPTIONS).train()
    t0 = time.perf_counter()
    history = fit(
        model,
        train,
        test,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        optimizer="adam",
        schedule="cosine",
        num_workers=args.workers,
        seed=args.seed,
        description=f"{MODEL} on {TAG}",
    )
    train_seconds = time.perf_counter() - t0
    model.eval()
    full = evaluate(model, test)
    subset = evaluate(model, subset_test)

    meta = {
        "model": MODEL,
        "tag": TAG,
        "dataset": f"Fashion-MNIST, all {len(train):,} training images (jiasu.data.load_data('fashion-mnist', 'train'))",
        "normalization": {
            "how": "jiasu.data.load_data('fashion-mnist') (fashion_mnist.to_tensor, normalize='standard')",
            "formula": "(pixels / 255 - mean) / std",
            "mean": fm.MEAN,
            "std": fm.STD,
            "input": "float32 (N, 1, 28, 28)",
        },
        "training": {
            "optimizer": "adam",
            "lr": args.lr,
            "schedule": "cosine",
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "seed": args.seed,
            "num_workers": args.workers,
            "torch_threads": args.threads,
            "seconds": round(train_seconds, 1),
            "history": [
                {"epoch": r.epoch, "train_loss": r.train_loss, "train_accuracy": r.train_accuracy, "test_accuracy": r.val_accuracy}
                for r in history
            ],
        },
        "epochs": args.epochs,
        "seed": args.seed,
        "test_accuracy": full.accuracy,
        "test_count": full.count,
        "test_loss": full.loss,
        "subset_test_accuracy": subset.accuracy,
        "subset_test_count": subset.count,
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch": torch.__version__,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "command": " ".join(["python", "benchmarks/train_pretrained.py", *(sys.argv[1:] if argv is None else argv)]),
    }
    arrays = {
        # float32 halves nothing here (training is float32 already) but pins the dtype the loader expects.
        k: (v.detach().cpu().numpy().astype(np.float32) if v.is_floating_point() else v.detach().cpu().numpy())
        for k, v in model.state_dict().items()
    }
    arrays["__options__"] = np.array(json.dumps(OPTIONS, sort_keys=True))
    arrays["__meta__"] = np.array(json.dumps(meta, sort_keys=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)

    print(f"test accuracy {full.accuracy:.4f} on {full.count:,} images; bundled subset {subset.accuracy:.4f} on {subset.count:,}")
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes) in {train_seconds:.0f} s of training")
    return meta


if __name__ == "__main__":
    main()
