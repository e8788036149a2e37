"""Train the weights bundled with jiasu: ``zoo:smallcnn?weights=fashion-mnist`` and ``zoo:resnet20?weights=fashion-mnist``.

Trains the model adapted to Fashion-MNIST (28x28x1, 10 classes; smallcnn with padding=2) on all
60,000 training images with ``jiasu.train.fit`` (cosine schedule, seed 0), measures top-1 accuracy on
all 10,000 test images and on the bundled 1,000-image test subset, and writes
``src/jiasu/zoo/weights/<model>-fashion-mnist.npz`` in the format ``jiasu.zoo`` reads: the state_dict
as float32 arrays plus ``__options__`` and ``__meta__``, JSON strings stored as 0-d arrays.

- smallcnn, the bundled model every default command uses: ``python benchmarks/train_pretrained.py``
  (Adam 1e-3, 4 epochs, no augmentation).
- resnet20, the distillation teacher (issue #7): ``python benchmarks/train_pretrained.py --model resnet20
  --optimizer sgd --lr 0.1 --weight-decay 5e-4 --epochs 12 --augment`` (random 2-pixel shifts and
  horizontal flips, ``jiasu.data.augment.RandomCropFlip``; about 20 minutes on two cores).

The inputs are what ``jiasu.data.load_data("fashion-mnist")`` gives: pixels / 255, then standardised
by the training set's mean and std (``jiasu.data.fashion_mnist.MEAN``/``STD``); the weights expect
the same normalisation at inference time.

Run: ``python benchmarks/train_pretrained.py [--model smallcnn] [--epochs 4] [--threads 2] [--out PATH]``
(a few minutes on two cores for smallcnn). The full dataset is found as ``jiasu.data.fashion_mnist.find`` says.
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
from jiasu.data.augment import RandomCropFlip
from jiasu.train import evaluate, fit

TAG = "fashion-mnist"
OPTIONS = {
    "smallcnn": dict(num_classes=10, image_size=28, padding=2, in_channels=1),
    "resnet20": dict(num_classes=10, image_size=28, in_channels=1),
}
WEIGHTS = Path(__file__).resolve().parents[1] / "src" / "jiasu" / "zoo" / "weights"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=sorted(OPTIONS), default="smallcnn")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam", help="sgd: momentum 0.9, Nesterov")
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument("--augment", action="store_true", help="random 2-pixel shifts and horizontal flips of the training images")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads")
    p.add_argument("--workers", type=int, default=1, help="DataLoader worker processes")
    p.add_argument("--out", type=Path, default=None, help="default: src/jiasu/zoo/weights/<model>-fashion-mnist.npz")
    args = p.parse_args(argv)
    name, options = args.model, OPTIONS[args.model]
    args.out = args.out or WEIGHTS / f"{name}-{TAG}.npz"

    torch.set_num_threads(args.threads)
    train = load_data("fashion-mnist", "train")
    test = load_data("fashion-mnist", "test")
    subset_test = load_data("fashion-mnist-subset", "test")

    model = zoo.get(name, seed=args.seed, **options).train()
    t0 = time.perf_counter()
    history = fit(
        model,
        RandomCropFlip(train) if args.augment else train,
        test,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        weight_decay=args.weight_decay,
        schedule="cosine",
        num_workers=args.workers,
        seed=args.seed,
        description=f"{name} on {TAG}",
    )
    train_seconds = time.perf_counter() - t0
    model.eval()
    full = evaluate(model, test)
    subset = evaluate(model, subset_test)

    meta = {
        "model": name,
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
            "optimizer": args.optimizer,
            "lr": args.lr,
            "weight_decay": args.weight_decay,
            "augmentation": "RandomCropFlip(padding=2, flip=True)" if args.augment else "none",
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
    arrays["__options__"] = np.array(json.dumps(options, sort_keys=True))
    arrays["__meta__"] = np.array(json.dumps(meta, sort_keys=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)

    print(f"test accuracy {full.accuracy:.4f} on {full.count:,} images; bundled subset {subset.accuracy:.4f} on {subset.count:,}")
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes) in {train_seconds:.0f} s of training")
    return meta


if __name__ == "__main__":
    main()
