"""How much faster than the fastest peer default can a pruned INT8 smallcnn run? (issue #9, session 5).

    python benchmarks/smallcnn_speed_ceiling.py --batch 64     # the throughput scenario of the session-3 run
    python benchmarks/smallcnn_speed_ceiling.py --batch 1      # latency

Speed only (the pruned weights are not retrained). The bundled `zoo:smallcnn?weights=fashion-mnist` with
50-85% of its channels removed (Torch-Pruning, L1), each quantized by jiasu's static INT8 writer (u8
activations, minmax on 256 bundled images), run by ONNX Runtime and OpenVINO (f32 precision hint) at 1 and 2
threads, against every peer default `jiasu optimize` compares with: ONNX Runtime FP32, OpenVINO FP32, and
ONNX Runtime's stock `quantize_static` model on both engines. All in one process, timed by
``jiasu.bench.timing.interleaved`` (7 rounds, best round); the ratio is against the fastest peer default
at either thread count. If removing more channels stops making the model faster, the ratio where it
stops is the most any pruning ratio can reach within the accuracy budget.
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

RATIOS = (0.5, 0.7, 0.75, 0.8, 0.85)


def main() -> None:
    import onnxruntime as ort
    import openvino as ov

    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--out", default=None, help="default: benchmarks/results/optimize/smallcnn_speed_ceiling_b<batch>.json")
    args = ap.parse_args()
    src = load_source("zoo:smallcnn?weights=fashion-mnist")
    images = load_subset("train").images[:256].numpy()
    x = images[: args.batch]
    core, live, fns, peers, info = ov.Core(), [], {}, [], {}

    def on_openvino(onnx: bytes, threads: int):
        model = core.read_model(model=onnx, weights=b"")
        model.reshape([args.batch, 1, 28, 28])
        request = core.compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": threads}).create_infer_request()
        request.infer([x])
        live.append(request)
        return lambda: request.infer([x])

    def on_onnxruntime(onnx: bytes, threads: int):
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        session = ort.InferenceSession(onnx, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        live.append(session)
        return lambda: session.run(None, {name: x})

    stock = stock_int8(src.onnx, images[:64])
    for threads in (1, 2):
        for label, onnx in (("FP32", src.onnx), ("stock INT8", stock)):
            for engine, make in (("onnxruntime", on_onnxruntime), ("openvino", on_openvino)):
                key = f"peer: {engine} {label}, {threads} thread{'s' if threads > 1 else ''}"
                fns[key] = make(onnx, threads)
                peers.append(key)
    for ratio in RATIOS:
        m = copy.deepcopy(src.module)
        prune_channels(m, src.example, ratio)
        macs, _ = count_macs_params(m, src.example)
        widths = [layer.out_channels for layer in m.modules() if isinstance(layer, torch.nn.Conv2d)]
        int8 = serialize(q.quantize_static(load_onnx(export_module(m.eval(), src.example), check=False), images, method="minmax", limit=len(images)).model)
        for threads in (1, 2):
            for engine, make in (("onnxruntime", on_onnxruntime), ("openvino", on_openvino)):
                key = f"channels -{ratio:.0%} INT8 on {engine}, {threads} thread{'s' if threads > 1 else ''}"
                fns[key] = make(int8, threads)
                info[key] = {"ratio": ratio, "conv_widths": widths, "macs": macs}
    samples = interleaved(fns, rounds=7, block_s=0.2, settle_s=0.05)
    best = {k: min(v) / args.batch for k, v in samples.items()}
    fastest_peer = min(peers, key=best.get)
    rows = []
    print(f"batch {args.batch}; fastest peer default: {fastest_peer} ({best[fastest_peer] * 1e6:.2f} us / image)\n")
    print("| configuration | conv widths | MACs / image | us / image | vs fastest peer default |")
    print("|---|---|---:|---:|---:|")
    for key in fns:
        extra = info.get(key, {})
        rows.append({"label": key, "us_per_image": best[key] * 1e6, "speedup": best[fastest_peer] / best[key], **extra})
        widths = extra.get("conv_widths", [16, 48, 96])
        macs = extra.get("macs")
        print(f"| {key} | {widths} | {f'{macs / 1e6:.2f} M' if macs else '6.61 M'} | {best[key] * 1e6:.2f} | {best[fastest_peer] / best[key]:.2f}x |")
    out = args.out or f"benchmarks/results/optimize/smallcnn_speed_ceiling_b{args.batch}.json"
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                   "versions": {"torch": torch.__version__, "openvino": ov.__version__, "onnxruntime": ort.__version__},
                   "batch": args.batch, "fastest_peer": fastest_peer, "rows": rows, "load": os.getloadavg()[0]}, f, indent=1)


if __name__ == "__main__":
    main()
