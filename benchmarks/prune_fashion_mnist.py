"""Pruning and distillation on real data: accuracy, non-zero parameters, stored bytes and latency (issue #7).

1. Trains smallcnn adapted to Fashion-MNIST (28x28x1, 10 classes, padding=2) with ``jiasu.train.fit``
   on the 60,000 training images (cached in ``--cache``); accuracy is on all 10,000 test images.
2. Unstructured: magnitude (global threshold) and random pruning to 50/75/90/95%, one prune step then
   ``--finetune-epochs`` of retraining, each with plain cross-entropy and with distillation from the
   dense model (T=4, alpha=0.7, true labels as the hard term).
3. Structured: 30/50/70% of the channels removed (Torch-Pruning, L1 importance), retrained the same two ways.
4. Every model is exported to ONNX and timed per image at batch 1 and 64 on our engine (dense ``direct``
   convs and plain Gemm; and with ``sparsify``: CSR kernels where they measured faster) and ONNX Runtime;
   outputs checked against torch. Stored bytes: fp32 dense, and CSR (int32 indices) for the sparse layers.
5. Per layer at 90% magnitude: dense vs CSR kernel time and the engine's choice.

Run: ``python benchmarks/prune_fashion_mnist.py [--epochs 3] [--finetune-epochs 1] [--threads 1]``.
Writes ``benchmarks/results/prune/prune_fashion_mnist.json`` and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

import jiasu
from jiasu.bench import measure
from jiasu import zoo
from jiasu.compress.distill import DistillationLoss
from jiasu.compress.prune import count_nonzero, iterative_prune, make_permanent, prune_channels, prune_unstructured, sparsify
from jiasu.data import fashion_mnist as fm
from jiasu.frontends import export_module
from jiasu.kernels.conv import ConvSpec
from jiasu.kernels.conv.sparse import SparseConvFn, to_csr
from jiasu.train import evaluate, fit

OPTIONS = dict(num_classes=10, image_size=28, padding=2)


def median_ms(fn, repeats: int, warmup: int = 3) -> float:
    """Median milliseconds of ``fn()`` (jiasu's timing harness)."""
    return measure(fn, repeats=repeats, warmup=warmup).median * 1e3


def latency(onnx_bytes: bytes, threads: int, repeats: int, sparse: bool) -> dict:
    """Per-image ms at batch 1 and 64: our engine dense (direct), our engine sparse (if ``sparse``), ONNX Runtime."""
    out = {}
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
    sess = ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])
    dense = jiasu.Engine(jiasu.load(onnx_bytes), conv_algorithm="direct")
    engines = {"jiasu_dense": dense}
    if sparse:
        model = jiasu.load(onnx_bytes)
        plan = sparsify(model)
        engines["jiasu_sparse"] = jiasu.Engine(model, conv_algorithm="direct", conv_algorithms=plan.conv_algorithms)
    for batch in (1, 64):
        x = torch.from_numpy(fm.load_subset("test").images[:batch].numpy().copy())
        ref = sess.run(None, {"input": x.numpy()})[0]
        n = repeats if batch == 1 else max(5, repeats // 4)
        out[f"onnxruntime_b{batch}"] = median_ms(lambda: sess.run(None, {"input": x.numpy()}), n) / batch
        for name, eng in engines.items():
            y = eng.run({"input": x})["output"].numpy()
            assert np.abs(y - ref).max() < 1e-5, (name, np.abs(y - ref).max())
            out[f"{name}_b{batch}"] = median_ms(lambda: eng.run({"input": x}), n) / batch
    return out


def stored_bytes(model: torch.nn.Module, onnx_bytes: bytes) -> dict:
    dense = sum(p.numel() * 4 for p in model.parameters())
    plan = sparsify(jiasu.load(onnx_bytes))
    return {"dense_bytes": dense, "sparse_bytes": dense - plan.dense_bytes + plan.csr_bytes, "sparse_layers": len(plan.layers)}


def record(name, model, test, extra, threads, repeats, sparse):
    model = make_permanent(model).eval()
    x = test.images[:1]
    onnx_bytes = export_module(model, x)
    nonzero, total = count_nonzero(model)
    row = {"name": name, "accuracy": evaluate(model, test).accuracy, "nonzero": nonzero, "params": total, **extra}
    row.update(stored_bytes(model, onnx_bytes))
    row.update(latency(onnx_bytes, threads, repeats, sparse))
    print(json.dumps(row), flush=True)
    return row


def per_layer(model: torch.nn.Module, threads: int, repeats: int) -> list[dict]:
    """Dense vs CSR time of every conv/fc of the pruned smallcnn on its real input shapes (batch 1 and 64)."""
    rows = []
    feats = {}
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: feats.__setitem__(n, i[0].detach())) for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    for batch in (1, 64):
        feats.clear()
        with torch.no_grad():
            model(fm.load_subset("test").images[:batch])
        for name, m in model.named_modules():
            if name not in feats:
                continue
            x = feats[name]
            w = m.weight.detach()
            n = repeats if batch == 1 else max(5, repeats // 4)
            if isinstance(m, torch.nn.Conv2d):
                p = m.padding
                spec = ConvSpec.from_weight(w, stride=m.stride, dilation=m.dilation, pads=(p[0], p[1], p[0], p[1]))
                fn = SparseConvFn(w, m.bias.detach(), spec, measure=True)
                t_dense, t_sparse = median_ms(lambda: fn.dense(x), n), median_ms(lambda: fn.sparse(x), n)
                fn(x)
                choice = fn.choices[tuple(x.shape)]
            else:
                csr, b = to_csr(w), m.bias.detach()
                t_dense = median_ms(lambda: torch.addmm(b, x, w.t()), n)
                t_sparse = median_ms(lambda: torch.sparse.mm(csr, x.t()).t() + b, n)
                choice = "sparse" if t_sparse < t_dense else "dense"
            rows.append({"layer": name, "batch": batch, "input": list(x.shape), "sparsity": 1 - float((w != 0).float().mean()),
                         "dense_ms": t_dense, "sparse_ms": t_sparse, "speedup": t_dense / t_sparse, "choice": choice})
    for h in hooks:
        h.remove()
    return rows


def synthetic_layers(threads: int, repeats: int) -> list[dict]:
    """Dense vs CSR on bigger layers than smallcnn's (random weights pruned by magnitude): where sparse can pay."""
    rows = []
    gen = torch.Generator().manual_seed(0)
    for sparsity in (0.9, 0.95):
        # resnet18 layer4 3x3 conv (512 -> 512 at 7x7) and a VGG16-style fc (9216 -> 4096), batch 1.
        w = torch.randn(512, 512, 3, 3, generator=gen)
        w[w.abs() < w.abs().flatten().kthvalue(int(sparsity * w.numel())).values] = 0
        x = torch.randn(1, 512, 7, 7, generator=gen)
        spec = ConvSpec.from_weight(w, pads=(1, 1, 1, 1))
        fn = SparseConvFn(w, None, spec)
        t_dense, t_sparse = median_ms(lambda: fn.dense(x), repeats // 4), median_ms(lambda: fn.sparse(x), repeats // 4)
        fn(x)
        rows.append({"layer": "conv 512->512 3x3 (resnet18 layer4)", "batch": 1, "input": list(x.shape), "sparsity": sparsity,
                     "dense_ms": t_dense, "sparse_ms": t_sparse, "speedup": t_dense / t_sparse, "choice": fn.choices[tuple(x.shape)]})
        w = torch.randn(4096, 9216, generator=gen)
        w[w.abs() < w.abs().flatten().kthvalue(int(sparsity * w.numel())).values] = 0
        a, csr = torch.randn(1, 9216, generator=gen), to_csr(w)
        t_dense = median_ms(lambda: a @ w.t(), repeats // 4)
        t_sparse = median_ms(lambda: torch.sparse.mm(csr, a.t()).t(), repeats // 4)
        rows.append({"layer": "fc 9216->4096 (vgg16 fc6-like)", "batch": 1, "input": list(a.shape), "sparsity": sparsity,
                     "dense_ms": t_dense, "sparse_ms": t_sparse, "speedup": t_dense / t_sparse, "choice": "sparse" if t_sparse < t_dense else "dense"})
    return rows


def structured_speed(name: str, ratio: float, threads: int, repeats: int) -> dict:
    """Per-image ms at batch 1 (224x224, random weights: speed only) before and after removing ``ratio`` of the channels."""
    model = zoo.get(name)
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    row = {"model": name, "ratio": ratio}
    for tag in ("dense", "pruned"):
        if tag == "pruned":
            r = prune_channels(model, x, ratio)
            row.update(macs_before=r.macs_before, macs_after=r.macs_after, params_before=r.params_before, params_after=r.params_after)
        onnx_bytes = export_module(model.eval(), x)
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        sess = ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])
        eng = jiasu.Engine(jiasu.load(onnx_bytes), conv_algorithm="direct")
        row[f"jiasu_{tag}"] = median_ms(lambda: eng.run({"input": x}), repeats, warmup=2)
        row[f"onnxruntime_{tag}"] = median_ms(lambda: sess.run(None, {"input": x.numpy()}), repeats, warmup=2)
    print(json.dumps(row), flush=True)
    return row


def relu_inputs(model: torch.nn.Module, test, repeats: int) -> list[dict]:
    """How sparse the ReLU outputs feeding each layer are on real images, and whether skipping their zeros pays.

    The input-sparse product tried is ``torch.sparse.mm(csr(x), W^T)`` (reads only the weight rows of the
    non-zero inputs); measured on fc1 and fc2 at batch 1 over 200 real test images.
    """
    feats: dict[str, list] = {}
    layers = {n: m for n, m in model.named_modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))}
    hooks = [m.register_forward_hook(lambda m, i, o, n=n: feats.setdefault(n, []).append(i[0].detach())) for n, m in layers.items()]
    with torch.no_grad():
        for i in range(200):
            model(test.images[i : i + 1])
    for h in hooks:
        h.remove()
    rows = []
    for name, xs in feats.items():
        zeros = float(np.mean([(x == 0).float().mean().item() for x in xs]))
        row = {"layer": name, "input_zero_fraction": zeros}
        if isinstance(layers[name], torch.nn.Linear):
            wt = layers[name].weight.detach().t().contiguous()
            sample = xs[:20]
            row["dense_ms"] = float(np.median([median_ms(lambda x=x: x @ wt, max(3, repeats // 8)) for x in sample]))
            row["input_sparse_ms"] = float(np.median([median_ms(lambda x=x: torch.sparse.mm(x.to_sparse_csr(), wt), max(3, repeats // 8)) for x in sample]))
        rows.append(row)
    print(json.dumps(rows), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--finetune-epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=40)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/jiasu_prune_cache"))
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "prune" / "prune_fashion_mnist.json")
    ap.add_argument("--subset", action="store_true", help="use the bundled subset (a smoke run, not the published numbers)")
    ap.add_argument("--only", default="dense,unstructured,iterative,structured,layers,relu,speed")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    only = set(args.only.split(","))
    train, test = (fm.load_subset("train"), fm.load_subset("test")) if args.subset else (fm.load("train"), fm.load("test"))
    args.cache.mkdir(parents=True, exist_ok=True)
    fit_opts = dict(batch_size=128, lr=1e-3, num_workers=1, progress=False)
    dense_path = args.cache / f"dense_e{args.epochs}{'_subset' if args.subset else ''}.pt"
    t0 = time.time()
    if dense_path.exists():
        dense = torch.load(dense_path, weights_only=False)
    else:
        dense = zoo.get("smallcnn", **OPTIONS).train()
        fit(dense, train, None, epochs=args.epochs, schedule="cosine", **fit_opts)
        torch.save(dense, dense_path)
    dense.eval()
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": platform.processor() or platform.machine(),
        "versions": {"torch": torch.__version__, "onnxruntime": ort.__version__, "numpy": np.__version__, "python": platform.python_version()},
        "threads": args.threads,
        "train_images": len(train),
        "test_images": len(test),
        "epochs": args.epochs,
        "finetune_epochs": args.finetune_epochs,
        "load_before": list(__import__("os").getloadavg()),
        "rows": [],
    }
    rows = results["rows"]
    rows.append(record("dense", copy.deepcopy(dense), test, {"kind": "dense", "seconds": time.time() - t0}, args.threads, args.repeats, False))
    ft = dict(fit_opts, lr=5e-4)
    if "unstructured" in only:
        for method in ("magnitude", "random"):
            for s in (0.5, 0.75, 0.9, 0.95):
                for kd in (False, True):
                    t = time.time()
                    m = copy.deepcopy(dense).train()
                    prune_unstructured(m, s, method=method, scope="global", seed=1)
                    before = evaluate(m, test).accuracy
                    loss = DistillationLoss(dense, temperature=4.0, alpha=0.7) if kd else None
                    fit(m, train, None, epochs=args.finetune_epochs, loss_fn=loss, **ft)
                    rows.append(record(f"{method} {s:.0%}{' +KD' if kd else ''}", m, test,
                                       {"kind": method, "sparsity": s, "kd": kd, "accuracy_before_retrain": before, "seconds": time.time() - t},
                                       args.threads, args.repeats, True))
    if "iterative" in only:
        # Han et al.'s schedule at the 90% target: 3 gradual steps (Zhu & Gupta), 1 retraining epoch after each.
        for kd in (False, True):
            t = time.time()
            m = copy.deepcopy(dense).train()
            loss = DistillationLoss(dense, temperature=4.0, alpha=0.7) if kd else None
            steps = iterative_prune(m, train, test, 0.9, steps=3, epochs_per_step=1, loss_fn=loss, **ft)
            rows.append(record(f"magnitude 90% iterative 3x1{' +KD' if kd else ''}", m, test,
                               {"kind": "magnitude", "sparsity": 0.9, "kd": kd, "accuracy_before_retrain": steps[-1].accuracy_after_prune,
                                "steps": [st.__dict__ for st in steps], "seconds": time.time() - t}, args.threads, args.repeats, True))
        # The same 3 extra epochs on the dense model: what the retraining alone is worth.
        m = copy.deepcopy(dense).train()
        fit(m, train, None, epochs=3, **ft)
        rows.append(record("dense +3 epochs (control)", m, test, {"kind": "dense"}, args.threads, args.repeats, False))
    if "structured" in only:
        for ratio in (0.3, 0.5, 0.7):
            for kd in (False, True):
                t = time.time()
                m = copy.deepcopy(dense)
                r = prune_channels(m, test.images[:1], ratio)
                before = evaluate(m, test).accuracy
                loss = DistillationLoss(dense, temperature=4.0, alpha=0.7) if kd else None
                fit(m.train(), train, None, epochs=args.finetune_epochs, loss_fn=loss, **ft)
                rows.append(record(f"channel {ratio:.0%}{' +KD' if kd else ''}", m, test,
                                   {"kind": "channel", "sparsity": ratio, "kd": kd, "accuracy_before_retrain": before, "macs": r.macs_after,
                                    "macs_before": r.macs_before, "seconds": time.time() - t}, args.threads, args.repeats, False))
    if "layers" in only:
        m = copy.deepcopy(dense)
        prune_unstructured(m, 0.9, scope="layer")
        results["layers_90"] = per_layer(make_permanent(m).eval(), args.threads, args.repeats) + synthetic_layers(args.threads, args.repeats)
    if "relu" in only:
        results["relu_inputs"] = relu_inputs(dense, test, args.repeats)
    if "speed" in only:
        results["structured_speed"] = [structured_speed(n, 0.3, args.threads, 10) for n in ("resnet18", "mobilenet_v2", "googlenet")]
    results["load_after"] = list(__import__("os").getloadavg())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print_tables(results)


def print_tables(results: dict) -> None:
    rows = results["rows"]
    dense = rows[0]
    print("\n| model | accuracy (drop) | before retrain | non-zero params | stored bytes (dense / CSR) | ours dense b1 | ours sparse b1 | ORT b1 | ours dense b64 | ours sparse b64 | ORT b64 |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if r["kind"] == "channel":
            continue
        drop = (dense["accuracy"] - r["accuracy"]) * 100
        sparse_b1 = f"{r['jiasu_sparse_b1']:.3f}" if "jiasu_sparse_b1" in r else "-"
        sparse_b64 = f"{r['jiasu_sparse_b64']:.4f}" if "jiasu_sparse_b64" in r else "-"
        before = f"{r['accuracy_before_retrain']:.2%}" if "accuracy_before_retrain" in r else "-"
        print(f"| {r['name']} | {r['accuracy']:.2%} ({drop:+.2f}) | {before} | {r['nonzero']:,} / {r['params']:,} | {r['dense_bytes']:,} / {r['sparse_bytes']:,} | "
              f"{r['jiasu_dense_b1']:.3f} | {sparse_b1} | {r['onnxruntime_b1']:.3f} | {r['jiasu_dense_b64']:.4f} | {sparse_b64} | {r['onnxruntime_b64']:.4f} |")
    print("\n| model | accuracy (drop) | before retrain | params | MACs | ours b1 (speedup) | ORT b1 (speedup) | ours b64 (speedup) | ORT b64 (speedup) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in [dense] + [r for r in rows if r["kind"] == "channel"]:
        drop = (dense["accuracy"] - r["accuracy"]) * 100
        macs = r.get("macs", next((c["macs_before"] for c in rows if "macs_before" in c), 0))
        before = f"{r['accuracy_before_retrain']:.2%}" if "accuracy_before_retrain" in r else "-"
        cells = []
        for key in ("jiasu_dense_b1", "onnxruntime_b1", "jiasu_dense_b64", "onnxruntime_b64"):
            cells.append(f"{r[key]:.4f} ({dense[key] / r[key]:.2f}x)")
        print(f"| {r['name']} | {r['accuracy']:.2%} ({drop:+.2f}) | {before} | {r['params']:,} | {macs:,} | " + " | ".join(cells) + " |")
    if "layers_90" in results:
        print("\n| layer | batch | input | sparsity | dense ms | CSR ms | CSR speedup | engine's choice |")
        print("|---|---|---|---|---|---|---|---|")
        for r in results["layers_90"]:
            print(f"| {r['layer']} | {r['batch']} | {'x'.join(map(str, r['input']))} | {r['sparsity']:.1%} | {r['dense_ms']:.4f} | {r['sparse_ms']:.4f} | {r['speedup']:.2f}x | {r['choice']} |")
    if "relu_inputs" in results:
        print("\n| layer | zero inputs (ReLU outputs, 200 test images) | dense ms | input-sparse ms |")
        print("|---|---|---|---|")
        for r in results["relu_inputs"]:
            d, sp = r.get("dense_ms"), r.get("input_sparse_ms")
            print(f"| {r['layer']} | {r['input_zero_fraction']:.1%} | {f'{d:.4f}' if d else '-'} | {f'{sp:.4f}' if sp else '-'} |")
    if "structured_speed" in results:
        print("\n| model (224x224, batch 1) | channels removed | MACs | params | ours ms (speedup) | ORT ms (speedup) |")
        print("|---|---|---|---|---|---|")
        for r in results["structured_speed"]:
            print(f"| {r['model']} | {r['ratio']:.0%} | {r['macs_before'] / 1e9:.2f}G -> {r['macs_after'] / 1e9:.2f}G ({r['macs_after'] / r['macs_before']:.0%}) | "
                  f"{r['params_before'] / 1e6:.2f}M -> {r['params_after'] / 1e6:.2f}M | {r['jiasu_dense']:.1f} -> {r['jiasu_pruned']:.1f} ({r['jiasu_dense'] / r['jiasu_pruned']:.2f}x) | "
                  f"{r['onnxruntime_dense']:.1f} -> {r['onnxruntime_pruned']:.1f} ({r['onnxruntime_dense'] / r['onnxruntime_pruned']:.2f}x) |")


if __name__ == "__main__":
    main()
