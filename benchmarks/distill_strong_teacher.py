"""Does distillation from a stronger teacher recover at least half of what a pruned smallcnn loses? (issue #7, session 5).

Session 4 (``benchmarks/distill_recovery.py``) distilled pruned smallcnn students from the dense smallcnn
itself (90.33%) and from a resnet18 trained 3 epochs (91.17%): neither teacher was clearly better than a
student retrained with plain cross-entropy, and distillation did not pay. Here the teacher is
``zoo:resnet20?weights=fashion-mnist``, the bundled ResNet-20 trained with augmentation
(``benchmarks/train_pretrained.py --model resnet20 ...``), which is several points better than the dense
smallcnn.

Students: the bundled dense ``zoo:smallcnn?weights=fashion-mnist`` with 50% or 70% of its channels
removed (``prune_channels``, L1, classifier outputs kept). Each is retrained on all 60,000 training
images (Adam, lr 5e-4, batch 128, cosine, ``--epochs`` epochs, ``num_workers=0``) once per seed with
plain cross-entropy (acc_CE) and once with ``DistillationLoss(teacher, T, alpha, hard="labels")``
(acc_KD). ``--augment`` retrains on randomly shifted and flipped images (``RandomCropFlip``) for both,
and the teacher labels the same augmented batch the student sees ("consistent" distillation).
Accuracy is top-1 on all 10,000 test images.

    recovered = (acc_KD - acc_CE) / (acc_dense - acc_CE)          (per seed, and of the seed means)

The target of issue #7 is recovered >= 50%. The table also gives the accuracy right after pruning,
before any retraining, so the other reading of the target (the share of the pruning loss that
distillation wins back) can be read off too. Finished rows are cached in ``<cache>/rows.jsonl`` and
reused on a rerun (runs are deterministic: fixed seeds, no worker processes).

Run: ``python benchmarks/distill_strong_teacher.py`` (about 40 minutes on 2 cores, most of it the
teacher's forward passes) or ``--quick`` (the bundled subset, 1 epoch, one seed; the numbers mean
nothing). Writes ``benchmarks/results/prune/distill_strong_teacher.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from pathlib import Path

import torch

from jiasu import zoo
from jiasu.compress.distill import DistillationLoss
from jiasu.compress.prune import prune_channels
from jiasu.data import fashion_mnist as fm
from jiasu.data.augment import RandomCropFlip
from jiasu.train import evaluate, fit

from _records import RowCache, environment, started, write_record  # this folder is on sys.path when run as a script

RESULTS = Path(__file__).resolve().parent / "results" / "prune"
RETRAIN = dict(lr=5e-4, batch_size=128, optimizer="adam", schedule="cosine", num_workers=0, progress=False)


def student(dense: torch.nn.Module, ratio: float, example: torch.Tensor) -> torch.nn.Module:
    m = copy.deepcopy(dense).eval()
    prune_channels(m, example, ratio)
    return m


def run_one(ratio, teacher, T, alpha, seed, epochs, dense, train, test, augment: bool) -> dict:
    m = student(dense, ratio, test.images[:1])
    before = evaluate(m, test).accuracy
    loss = DistillationLoss(teacher, temperature=T, alpha=alpha, hard="labels") if teacher is not None else None
    t0 = time.perf_counter()
    # With augmentation the teacher labels the same shifted/flipped batch the student sees (DistillationLoss runs it on the batch).
    history = fit(m.train(), RandomCropFlip(train) if augment else train, None, epochs=epochs, loss_fn=loss, seed=seed, **RETRAIN)
    return {"ratio": ratio, "kd": teacher is not None, "temperature": T if teacher is not None else None,
            "alpha": alpha if teacher is not None else None, "seed": seed, "epochs": epochs, "augment": augment,
            "accuracy_before_retrain": before, "accuracy": evaluate(m.eval(), test).accuracy,
            "train_seconds": time.perf_counter() - t0, "train_loss_last_epoch": history[-1].train_loss}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--ratios", default="0.5,0.7", help="fractions of channels removed")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--kd", default="4:0.9", help="T:alpha settings joined by ','")
    ap.add_argument("--augment", action="store_true", help="retrain on randomly shifted and flipped images (jiasu.data.augment.RandomCropFlip)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/kd_strong"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        train, test = fm.load_subset("train"), fm.load_subset("test")
        args.epochs, seeds = 1, [0]
    else:
        train, test = fm.load("train"), fm.load("test")
        seeds = [int(s) for s in args.seeds.split(",")]
    ratios = [float(r) for r in args.ratios.split(",")]
    kds = [tuple(float(v) for v in s.split(":")) for s in args.kd.split(",")]
    done = RowCache(args.cache, "rows_quick.jsonl" if args.quick else "rows.jsonl",
                    lambda r: (r["ratio"], r["kd"], r["temperature"], r["alpha"], r["seed"], r["epochs"], r.get("augment", False)))
    start = started()

    dense = zoo.get("smallcnn", weights="fashion-mnist").eval()
    teacher = zoo.get("resnet20", weights="fashion-mnist").eval()
    dense_acc, teacher_acc = evaluate(dense, test).accuracy, evaluate(teacher, test).accuracy
    print(f"dense smallcnn {dense_acc:.2%}, resnet20 teacher {teacher_acc:.2%} on {len(test):,} test images", flush=True)

    rows = []
    for ratio in ratios:
        for seed in seeds:
            for kd in [None, *kds]:
                T, alpha = kd if kd else (None, None)
                k = (ratio, kd is not None, T, alpha, seed, args.epochs, args.augment)
                r = done.get(k, lambda: run_one(ratio, teacher if kd else None, T, alpha, seed, args.epochs, dense, train, test, args.augment))
                rows.append(r)
                what = f"KD T={T:g} alpha={alpha:g}" if kd else "CE"
                print(f"channels -{ratio:.0%} seed {seed} {what}: {r['accuracy']:.2%} ({r['train_seconds']:.0f} s)", flush=True)

    lines = ["| student | T | alpha | seed | after pruning | acc_CE | acc_KD | points lost (dense - CE) | recovered |",
             "|---|---|---|---|---:|---:|---:|---:|---:|"]
    summary = []
    for ratio in ratios:
        for T, alpha in kds:
            ce = [r for r in rows if r["ratio"] == ratio and not r["kd"]]
            kd = [r for r in rows if r["ratio"] == ratio and r["kd"] and r["temperature"] == T and r["alpha"] == alpha]
            for c, d in zip(ce, kd):
                lost = dense_acc - c["accuracy"]
                rec = (d["accuracy"] - c["accuracy"]) / lost if lost > 0 else None
                lines.append(f"| channels -{ratio:.0%} | {T:g} | {alpha:g} | {c['seed']} | {c['accuracy_before_retrain']:.2%} | "
                             f"{c['accuracy']:.2%} | {d['accuracy']:.2%} | {lost * 100:.2f} | {'n/a' if rec is None else f'{rec:.0%}'} |")
            mce = statistics.mean(r["accuracy"] for r in ce)
            mkd = statistics.mean(r["accuracy"] for r in kd)
            lost = dense_acc - mce
            rec = (mkd - mce) / lost if lost > 0 else None
            sd = lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0
            lines.append(f"| **channels -{ratio:.0%}, mean of {len(ce)}** | {T:g} | {alpha:g} | | | **{mce:.2%}** (sd {sd([r['accuracy'] for r in ce]) * 100:.2f}) | "
                         f"**{mkd:.2%}** (sd {sd([r['accuracy'] for r in kd]) * 100:.2f}) | {lost * 100:.2f} | **{'n/a' if rec is None else f'{rec:.0%}'}** |")
            summary.append({"ratio": ratio, "temperature": T, "alpha": alpha, "mean_ce": mce, "mean_kd": mkd,
                            "points_lost": lost * 100, "recovered_of_means": rec,
                            "recovered_per_seed": [((d["accuracy"] - c["accuracy"]) / (dense_acc - c["accuracy"])) if dense_acc > c["accuracy"] else None
                                                   for c, d in zip(ce, kd)]})
    md = "\n".join(lines)
    results = {
        **environment(start),
        "command": "python benchmarks/distill_strong_teacher.py" + (" --quick" if args.quick else f" --ratios {args.ratios} --seeds {args.seeds} --epochs {args.epochs} --kd {args.kd}" + (" --augment" if args.augment else "")),
        "threads": args.threads, "train_images": len(train), "test_images": len(test), "retrain": RETRAIN,
        "dense": {"source": "zoo:smallcnn?weights=fashion-mnist", "accuracy": dense_acc},
        "teacher": {"source": "zoo:resnet20?weights=fashion-mnist", "accuracy": teacher_acc,
                    "training": zoo.weights_info("resnet20", "fashion-mnist").meta.get("training")},
        "recovery": "(acc_KD - acc_CE) / (acc_dense - acc_CE); CE = the same student, epochs and seed with cross-entropy",
        "rows": rows, "summary": summary, "table_markdown": md,
    }
    write_record(args.out or (args.cache / "distill_strong_teacher_quick.json" if args.quick else RESULTS / "distill_strong_teacher.json"), results, md)
    return results


if __name__ == "__main__":
    main()
