"""Why `jiasu optimize` cannot make smallcnn 2x faster than OpenVINO's INT8 here: the speed ceiling of pruning (issue #9).

    python benchmarks/smallcnn_int8_floor.py [--batch 64] [--out benchmarks/results/optimize/smallcnn_int8_floor.json]

Speed only, on the bundled `zoo:smallcnn?weights=fashion-mnist` (28x28x1): the model with 0/25/50/70% of
its channels removed (Torch-Pruning, L1; widths as they fall and rounded to multiples of 16), each
quantized by jiasu's static INT8 writer (u8 activations, minmax on 256 bundled images), run by OpenVINO
(f32 precision hint, 2 threads) at ``--batch``, against ONNX Runtime's stock ``quantize_static`` model
on OpenVINO, the fastest single-engine default of the session-3 optimize run. Timed by
``jiasu.bench.timing.interleaved`` (7 rounds, best round). Then OpenVINO's own per-layer profile
(PERF_COUNT) of the unpruned and the 70% model, which shows where the time goes. The weights are not
retrained: accuracy is not the question here, only how fast each width can run.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
from datetime import datetime, timezone

import torch

from jiasu.bench.timing import interleaved
from jiasu.compress import quantize as q
from jiasu.compress.prune import count_macs_params, prune_channels
from jiasu.data.fashion_mnist import load_subset
from jiasu.frontends import export_module, load_onnx
from jiasu.recommend.build import load_source, serialize
from jiasu.recommend.peers import stock_int8

CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 2}


def variants(src, images) -> dict[str, dict]:
    out = {"stock QDQ (ORT quantize_static), OpenVINO": {"onnx": stock_int8(src.onnx, images[:64])}}
    for ratio in (0.0, 0.25, 0.5, 0.7):
        for round_to in ((None, 16) if ratio else (None,)):
            m = copy.deepcopy(src.module)
            if ratio:
                prune_channels(m, src.example, ratio, round_to=round_to)
            macs, _ = count_macs_params(m, src.example)
            widths = [l.out_channels for l in m.modules() if isinstance(l, torch.nn.Conv2d)]
            onnx = export_module(m.eval(), src.example)
            int8 = serialize(q.quantize_static(load_onnx(onnx, check=False), images, method="minmax", limit=len(images)).model)
            label = f"channels -{ratio:.0%}" + (f" (round to {round_to})" if round_to else "") + ", jiasu INT8, OpenVINO"
            out[label] = {"onnx": int8, "conv_widths": widths, "macs": macs, "ratio": ratio, "round_to": round_to}
    return out


def compile_ov(core, onnx: bytes, batch: int, profile: bool = False):
    model = core.read_model(model=onnx, weights=b"")
    model.reshape([batch, 1, 28, 28])
    return core.compile_model(model, "CPU", dict(CONFIG, PERF_COUNT=profile))


def main() -> None:
    import openvino as ov

    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", default="benchmarks/results/optimize/smallcnn_int8_floor.json")
    args = ap.parse_args()
    src = load_source("zoo:smallcnn?weights=fashion-mnist")
    images = load_subset("train").images[:256].numpy()
    x = images[: args.batch]
    core = ov.Core()
    models = variants(src, images)
    live, fns = [], {}
    for label, v in models.items():
        compiled = compile_ov(core, v["onnx"], args.batch)
        request = compiled.create_infer_request()
        request.infer([x])
        live.append((compiled, request))
        fns[label] = lambda r=request: r.infer([x])
    samples = interleaved(fns, rounds=7, block_s=0.2, settle_s=0.05)
    stock = min(samples[next(iter(models))]) / args.batch
    rows = []
    print(f"| model | conv widths | MACs / image | us / image (batch {args.batch}) | vs stock INT8 |")
    print("|---|---|---:|---:|---:|")
    for label, v in models.items():
        per = min(samples[label]) / args.batch
        rows.append({"label": label, "us_per_image": per * 1e6, "speedup_vs_stock": stock / per,
                     **{k: v.get(k) for k in ("conv_widths", "macs", "ratio", "round_to")}})
        macs = f"{v['macs'] / 1e6:.2f} M" if "macs" in v else "6.61 M"
        print(f"| {label} | {v.get('conv_widths', [16, 48, 96])} | {macs} | {per * 1e6:.2f} | {stock / per:.2f}x |")
    profiles = {}
    for label in [l for l in models if models[l].get("ratio") in (0.0, 0.7) and not models[l].get("round_to")]:
        request = compile_ov(core, models[label]["onnx"], args.batch, profile=True).create_infer_request()
        for _ in range(300):
            request.infer([x])
        layers = sorted(((p.real_time.total_seconds() * 1e6, p.node_name, p.node_type, p.exec_type)
                         for p in request.profiling_info if p.status.name == "EXECUTED"), reverse=True)
        profiles[label] = [{"us_per_batch": t, "node": n, "type": ty, "kernel": k} for t, n, ty, k in layers]
        total = sum(t for t, *_ in layers)
        print(f"\n{label}: OpenVINO per-layer time, us per batch of {args.batch} (last call; total {total:.0f})")
        for t, n, ty, k in layers[:6]:
            print(f"- {n}: {t:.0f} ({ty}, {k})")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                   "versions": {"torch": torch.__version__, "openvino": ov.__version__}, "batch": args.batch, "config": CONFIG,
                   "rows": rows, "profiles": profiles, "load": os.getloadavg()[0]}, f, indent=1)


if __name__ == "__main__":
    main()
