"""Distillation when few labelled images are left to retrain on: does it recover half of what pruning costs? (issue #7, session 7).

Sessions 4 and 5 (``distill_recovery.py``, ``distill_strong_teacher.py``) retrained pruned smallcnn students
on all 60,000 labelled training images. There cross-entropy alone brings them back to within 0.4-1.4 points
of the dense model, and distillation never beat it. Deployment often looks different: the trained model
is at hand, but only a small labelled set is (a calibration set, a few hundred images per class). This
script measures that case.

Students: the bundled dense ``zoo:smallcnn?weights=fashion-mnist`` (90.33% on the 10,000 test images) with
``--ratios`` of its channels removed (``prune_channels``, L1, classifier outputs kept). Each is retrained
on ``--per-class`` labelled images of each class, drawn at random from the 60,000 training images (the
draw depends on the seed), with random 2-pixel shifts and horizontal flips (``RandomCropFlip``) for
every method alike. Every run sees the same number of images (``--images-seen``, as epochs over its
subset) with Adam 5e-4, cosine decay, batch 64, ``num_workers=0``:

- CE: plain cross-entropy on the true labels.
- KD T:alpha: ``DistillationLoss(dense, T, alpha, hard="labels")``, the dense model teaching its own
  pruned copy (it labels the same augmented batch the student sees).

Accuracy is top-1 on all 10,000 test images. Per seed and of the seed means:

    recovered = (acc_KD - acc_CE) / (acc_dense - acc_CE)          (issue #7's target: >= 50%)

Finished rows are cached in ``<cache>/rows.jsonl`` and reused on a rerun (the runs are deterministic).

Run: ``python benchmarks/distill_few_labels.py`` (about 20 minutes on 2 cores) or ``--quick`` (one
small cell; the numbers mean little). Writes ``benchmarks/results/prune/distill_few_labels.json`` and
prints a Markdown table.
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
from jiasu.data.arrays import ArrayDataset
from jiasu.data.augment import RandomCropFlip
from jiasu.train import evaluate, fit

from _records import RowCache, environment, started, write_record  # this folder is on sys.path when run as a script

RESULTS = Path(__file__).resolve().parent / "results" / "prune"
RETRAIN = dict(lr=5e-4, batch_size=64, optimizer="adam", schedule="cosine", num_workers=0, progress=False)


def labelled_subset(train: ArrayDataset, per_class: int, seed: int) -> ArrayDataset:
    """``per_class`` images of every class, drawn without replacement by a generator seeded with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    picks = []
    for c in sorted(set(train.labels.tolist())):
        idx = torch.nonzero(train.labels == c).flatten()
        picks.append(idx[torch.randperm(len(idx), generator=g)[:per_class]])
    idx = torch.cat(picks)
    return ArrayDataset(train.images[idx], train.labels[idx], train.classes, f"{train.name}[{per_class}/class, seed {seed}]")


def run_one(dense, ratio, per_class, kd, seed, images_seen, train, test) -> dict:
    m = copy.deepcopy(dense).eval()
    prune_channels(m, test.images[:1], ratio)
    before = evaluate(m, test).accuracy
    data = labelled_subset(train, per_class, seed)
    epochs = max(1, round(images_seen / len(data)))
    loss = DistillationLoss(dense, temperature=kd[0], alpha=kd[1], hard="labels") if kd else None
    t0 = time.perf_counter()
    history = fit(m.train(), RandomCropFlip(data), None, epochs=epochs, loss_fn=loss, seed=seed, **RETRAIN)
    return {"ratio": ratio, "per_class": per_class, "kd": kd is not None, "temperature": kd[0] if kd else None,
            "alpha": kd[1] if kd else None, "seed": seed, "epochs": epochs, "labelled_images": len(data),
            "accuracy_before_retrain": before, "accuracy": evaluate(m.eval(), test).accuracy,
            "train_seconds": time.perf_counter() - t0, "train_loss_last_epoch": history[-1].train_loss}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--ratios", default="0.5,0.7", help="fractions of channels removed")
    ap.add_argument("--per-class", default="50,100,500", help="labelled training images per class")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--images-seen", type=int, default=80_000, help="training images each run sees (epochs = this / subset size)")
    ap.add_argument("--kd", default="2:1.0,4:0.9", help="T:alpha settings joined by ','")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/kd_few_labels"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.quick:
        train, test = fm.load_subset("train"), fm.load_subset("test")
        args.ratios, args.per_class, args.seeds, args.images_seen = "0.5", "20", "0", 2_000
    else:
        train, test = fm.load("train"), fm.load("test")
    ratios = [float(r) for r in args.ratios.split(",")]
    sizes = [int(n) for n in args.per_class.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    kds = [tuple(float(v) for v in s.split(":")) for s in args.kd.split(",")]
    done = RowCache(args.cache, "rows_quick.jsonl" if args.quick else "rows.jsonl",
                    lambda r: (r["ratio"], r["per_class"], r["kd"], r["temperature"], r["alpha"], r["seed"], r["epochs"]))
    start = started()

    dense = zoo.get("smallcnn", weights="fashion-mnist").eval()
    dense_acc = evaluate(dense, test).accuracy
    print(f"dense smallcnn {dense_acc:.2%} on {len(test):,} test images", flush=True)

    rows = []
    for ratio in ratios:
        for per_class in sizes:
            for seed in seeds:
                for kd in [None, *kds]:
                    epochs = max(1, round(args.images_seen / (per_class * 10)))
                    k = (ratio, per_class, kd is not None, kd[0] if kd else None, kd[1] if kd else None, seed, epochs)
                    r = done.get(k, lambda: run_one(dense, ratio, per_class, kd, seed, args.images_seen, train, test))
                    rows.append(r)
                    what = f"KD T={kd[0]:g} alpha={kd[1]:g}" if kd else "CE"
                    print(f"channels -{ratio:.0%}, {per_class}/class, seed {seed}, {what}: {r['accuracy']:.2%} ({r['train_seconds']:.0f} s)", flush=True)

    sd = lambda xs: statistics.stdev(xs) if len(xs) > 1 else 0.0  # noqa: E731
    lines = ["| student | labelled images | epochs | T | alpha | acc_CE (mean, sd) | acc_KD (mean, sd) | dense - CE (points) | recovered, per seed | recovered, of the means |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    summary = []
    for ratio in ratios:
        for per_class in sizes:
            ce = [r for r in rows if r["ratio"] == ratio and r["per_class"] == per_class and not r["kd"]]
            for T, alpha in kds:
                kd = [r for r in rows if r["ratio"] == ratio and r["per_class"] == per_class and r["kd"] and (r["temperature"], r["alpha"]) == (T, alpha)]
                per_seed = [(d["accuracy"] - c["accuracy"]) / (dense_acc - c["accuracy"]) if dense_acc > c["accuracy"] else None for c, d in zip(ce, kd)]
                mce, mkd = statistics.mean(r["accuracy"] for r in ce), statistics.mean(r["accuracy"] for r in kd)
                lost = dense_acc - mce
                rec = (mkd - mce) / lost if lost > 0 else None
                pct = lambda v: "n/a" if v is None else f"{v:.0%}"  # noqa: E731
                lines.append(f"| channels -{ratio:.0%} | {per_class * 10:,} | {ce[0]['epochs']} | {T:g} | {alpha:g} | "
                             f"{mce:.2%} ({sd([r['accuracy'] for r in ce]) * 100:.2f}) | {mkd:.2%} ({sd([r['accuracy'] for r in kd]) * 100:.2f}) | "
                             f"{lost * 100:.2f} | {', '.join(pct(v) for v in per_seed)} | **{pct(rec)}** |")
                summary.append({"ratio": ratio, "per_class": per_class, "temperature": T, "alpha": alpha, "mean_ce": mce, "mean_kd": mkd,
                                "points_lost": lost * 100, "recovered_of_means": rec, "recovered_per_seed": per_seed})
    md = "\n".join(lines)
    results = {
        **environment(start),
        "command": "python benchmarks/distill_few_labels.py" + (" --quick" if args.quick else
                   f" --ratios {args.ratios} --per-class {args.per_class} --seeds {args.seeds} --images-seen {args.images_seen} --kd {args.kd}"),
        "threads": args.threads, "test_images": len(test), "retrain": RETRAIN, "images_seen": args.images_seen,
        "augment": "RandomCropFlip(padding=2, flip=True), all methods",
        "dense": {"source": "zoo:smallcnn?weights=fashion-mnist", "accuracy": dense_acc},
        "recovery": "(acc_KD - acc_CE) / (acc_dense - acc_CE); CE = the same student, labelled subset, epochs and seed with cross-entropy",
        "rows": rows, "summary": summary, "table_markdown": md,
    }
    write_record(args.out or (args.cache / "distill_few_labels_quick.json" if args.quick else RESULTS / "distill_few_labels.json"), results, md)
    return results


if __name__ == "__main__":
    main()
