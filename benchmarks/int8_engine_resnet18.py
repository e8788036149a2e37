"""Our engine's INT8 against our FP32 and OpenVINO's INT8 on resnet18 at batch 8 (issue #6's speed targets).

    python benchmarks/int8_engine_resnet18.py [--rounds 7] [--batch 8] [--out benchmarks/results/quantize/int8_engine_resnet18.json]

resnet18 (224x224, random weights: speed only), quantized by jiasu's static INT8 writer (u8 activations,
s8 per-channel weights, minmax on the batch itself). Timed in one process with
``jiasu.bench.timing.interleaved`` (shuffled rounds, settling calls, best round), 2 threads everywhere:

- jiasu FP32 and jiasu INT8 (graph passes, QDQ lowered to int8 kernels), each with the kernels' own two
  threads (``intra_op``) and with the batch split over two workers of one thread each (``batch``);
- OpenVINO FP32 and INT8 on the same ONNX files (INFERENCE_PRECISION_HINT=f32, 2 threads);
- ONNX Runtime INT8 on the same QDQ file (ORT_ENABLE_ALL, 2 threads).

Also: our INT8 logits against ONNX Runtime's on the same QDQ model, and per op type where our INT8 time
goes (``Engine.node_times``, one and two threads). The targets: our INT8 >= 2x our FP32 (best
configuration of each) and within 1.3x of OpenVINO INT8.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from datetime import datetime, timezone

import numpy as np
import onnx_ir as ir
import torch

import jiasu
from jiasu.bench.timing import interleaved
from jiasu.compress.quantize import quantize_static
from jiasu.frontends import copy_model
from jiasu.passes import optimize
from jiasu.runtime.parallel import make_runner

THREADS = 2


def main() -> None:
    import onnxruntime as ort
    import openvino as ov

    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--out", default="benchmarks/results/quantize/int8_engine_resnet18.json")
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    b = args.batch
    fp32 = jiasu.load("zoo:resnet18")
    x = np.random.default_rng(0).normal(size=(b, 3, 224, 224)).astype(np.float32)
    int8 = quantize_static(fp32, x, batch_size=b).model
    feeds = {"input": x}
    engines = {}
    for name, model in (("FP32", fp32), ("INT8", int8)):
        m = copy_model(model)
        optimize(m)
        engines[name] = jiasu.Engine(m, threads=THREADS)
    core = ov.Core()
    ov_requests = {}
    for name, model in (("FP32", fp32), ("INT8", int8)):
        data = ir.serde.serialize_model(model).SerializeToString()
        compiled = core.compile_model(core.read_model(data, b""), "CPU", {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": THREADS})
        ov_requests[name] = (compiled, compiled.create_infer_request())
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = THREADS, 1
    ort_int8 = ort.InferenceSession(ir.serde.serialize_model(int8).SerializeToString(), so, providers=["CPUExecutionProvider"])
    runners = {f"jiasu {p} {s}": make_runner(engines[p], s, THREADS) for p in ("FP32", "INT8") for s in ("intra_op", "batch")}
    fns = {label: (lambda r=r: r.run(feeds)) for label, r in runners.items()}
    fns["openvino FP32"] = lambda: ov_requests["FP32"][1].infer({0: x})
    fns["openvino INT8"] = lambda: ov_requests["INT8"][1].infer({0: x})
    fns["onnxruntime INT8"] = lambda: ort_int8.run(None, feeds)
    for fn in fns.values():
        fn()
    samples = interleaved(fns, rounds=args.rounds, block_s=0.3, settle_s=0.1)
    rows = {label: {"ms_per_image": min(v) / b * 1e3, "median_ms_per_image": statistics.median(v) / b * 1e3} for label, v in samples.items()}
    load = os.getloadavg()[0]
    ours8 = min(rows[f"jiasu INT8 {s}"]["ms_per_image"] for s in ("intra_op", "batch"))
    ours32 = min(rows[f"jiasu FP32 {s}"]["ms_per_image"] for s in ("intra_op", "batch"))
    ov8 = rows["openvino INT8"]["ms_per_image"]
    ref = ort_int8.run(None, feeds)[0]
    ours = runners["jiasu INT8 batch"].run(feeds)["output"].numpy()
    agreement = {"rel_l2": float(np.linalg.norm(ours - ref) / np.linalg.norm(ref)), "top1_agreement": float((ours.argmax(1) == ref.argmax(1)).mean())}
    per_op = {}
    for threads in (2, 1):
        torch.set_num_threads(threads)
        by: dict[str, float] = {}
        for n in engines["INT8"].node_times(feeds, repeats=3):
            by[n["op"]] = by.get(n["op"], 0.0) + n["ms"]
        per_op[threads] = {k: round(v, 2) for k, v in sorted(by.items(), key=lambda kv: -kv[1])}
    torch.set_num_threads(THREADS)
    for r in runners.values():
        r.close()
    print("| configuration | ms / image (best round) | median round |\n|---|---:|---:|")
    for label, r in sorted(rows.items(), key=lambda kv: kv[1]["ms_per_image"]):
        print(f"| {label} | {r['ms_per_image']:.2f} | {r['median_ms_per_image']:.2f} |")
    print(f"\nour INT8 vs our FP32 (best configuration of each): {ours32 / ours8:.2f}x faster (target >= 2x)")
    print(f"our INT8 vs OpenVINO INT8: {ours8 / ov8:.2f}x its time (target <= 1.3x)")
    print(f"our INT8 vs ONNX Runtime INT8 on the same QDQ model: relative L2 {agreement['rel_l2']:.2e}, top-1 agreement {agreement['top1_agreement']:.0%}")
    print(f"our INT8 per op type, ms per batch (2 threads / 1 thread): {per_op[2]} / {per_op[1]}; load average {load:.1f}")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                   "versions": {"torch": torch.__version__, "openvino": ov.__version__, "onnxruntime": ort.__version__,
                                "quantized_engine": torch.backends.quantized.engine},
                   "batch": b, "threads": THREADS, "rows": rows, "samples_s": samples, "int8_vs_fp32": ours32 / ours8,
                   "int8_vs_openvino_int8": ours8 / ov8, "agreement_with_onnxruntime": agreement, "int8_ms_per_op": per_op, "load": load},
                  f, indent=1)


if __name__ == "__main__":
    main()
