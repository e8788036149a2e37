"""Quantization on real data: accuracy, size and latency of every precision jiasu writes (issue #6).

1. Trains smallcnn adapted to Fashion-MNIST (28x28x1, 10 classes, padding=2) with ``jiasu.train.fit``
   (cached in ``--out``), exports it to ONNX.
2. Writes FP32, FP16 / BF16 (compute and weight-only), INT8 dynamic, INT8 static with each calibration
   method (512 training images), and measures test accuracy (all 10,000 test images) on our engine
   and ONNX Runtime, the ONNX file size, and per-image latency at batch 1 and 8 on our engine, ONNX
   Runtime and OpenVINO (INFERENCE_PRECISION_HINT set explicitly: f32 for FP32/INT8 models, the
   model's type for FP16/BF16).
3. resnet18 at batch 8 (random weights, calibrated on 16 random images; speed only): our FP32,
   our INT8 (QDQ lowered to int8 kernels), ONNX Runtime INT8 with u8s8 and s8s8 QDQ, OpenVINO INT8.

Run: ``python benchmarks/quantize_fashion_mnist.py [--epochs 2] [--repeats 20] [--skip-resnet]``.
Writes ``--out``/quantize.json and prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import onnx_ir as ir
import torch

import jiasu
from jiasu.bench import measure as time_runs  # this script has its own measure()
from jiasu.compress.quantize import OBSERVERS, quantize_static
from jiasu.compress.quantize.dynamic import quantize_dynamic
from jiasu.compress.quantize.float16 import convert_float
from jiasu.passes.lower_int8 import lower_int8

THREADS = 2
# Our engine's float convolutions run `direct` (torch's conv2d), as when RESULTS.md's figures were
# recorded: `auto`'s oneDNN then packed weights without the input shape and ran smallcnn at batch 1
# 100x slower (fixed since; `auto` is now the faster choice).
CONV_ALGORITHM = "direct"


def median_ms(fn, repeats: int, warmup: int = 2) -> float:
    """Median milliseconds of ``fn()`` (jiasu's timing harness)."""
    return time_runs(fn, repeats=repeats, warmup=warmup).median * 1e3


def min_ms(fn, repeats: int) -> float:
    """The fastest of ``repeats`` runs: on a shared machine, the least disturbed one."""
    return time_runs(fn, repeats=repeats, warmup=0).min * 1e3


def ort_session(model: ir.Model):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = THREADS, 1
    return ort.InferenceSession(ir.serde.serialize_model(model).SerializeToString(), opts, providers=["CPUExecutionProvider"])


def ov_request(model: ir.Model, precision: str):
    import openvino as ov

    core = ov.Core()
    data = ir.serde.serialize_model(model).SerializeToString()
    compiled = core.compile_model(
        core.read_model(data, b""), "CPU", {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": THREADS}
    )
    return compiled.create_infer_request()


def runners(model: ir.Model, engine_model: ir.Model, ov_precision: str | None):
    """name -> fn(x) -> logits/probabilities as numpy, for every backend that can run ``model``."""
    out = {}
    engine = jiasu.Engine(engine_model, threads=THREADS, conv_algorithm=CONV_ALGORITHM)
    out["jiasu"] = lambda x: engine.run({"input": x})["output"].numpy()
    try:
        sess = ort_session(model)
        out["onnxruntime"] = lambda x: sess.run(None, {"input": x})[0]
    except Exception as e:  # e.g. no BF16 kernels in ORT's CPU provider
        out["onnxruntime"] = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
    if ov_precision:
        try:
            req = ov_request(model, ov_precision)
            out["openvino"] = lambda x: next(iter(req.infer({0: x}).values()))
        except Exception as e:
            out["openvino"] = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
    return out


def accuracy(fn, images: np.ndarray, labels: np.ndarray, batch: int = 500) -> float:
    hits = 0
    for i in range(0, len(images), batch):
        hits += int((fn(images[i : i + batch]).argmax(1) == labels[i : i + batch]).sum())
    return 100.0 * hits / len(images)


def train_smallcnn(out: Path, epochs: int):
    from jiasu import zoo
    from jiasu.data import fashion_mnist
    from jiasu.train import evaluate, fit

    model = zoo.get("smallcnn", num_classes=10, image_size=28, padding=2)
    ckpt = out / f"smallcnn_fmnist_e{epochs}.pt"
    full = fashion_mnist.available()
    train = fashion_mnist.load("train") if full else fashion_mnist.load_subset("train")
    test = fashion_mnist.load("test") if full else fashion_mnist.load_subset("test")
    if ckpt.exists():
        model.load_state_dict(torch.load(ckpt))
    else:
        t = time.time()
        fit(model.train(), train, test, epochs=epochs, lr=2e-3, batch_size=128, progress=False, num_workers=0)
        print(f"trained {epochs} epochs in {time.time() - t:.0f} s")
        torch.save(model.state_dict(), ckpt)
    model.eval()
    print(f"torch test accuracy {evaluate(model, test).accuracy * 100:.2f}% ({'full' if full else 'bundled subset'})")
    return model, train, test, full


def fashion_table(args) -> list[dict]:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model, train, test, full = train_smallcnn(out, args.epochs)
    images, labels = test.numpy()
    images, labels = np.asarray(images, np.float32), np.asarray(labels)
    calib = np.asarray(train.numpy()[0][:512], np.float32)
    fp32 = jiasu.load(model, example_input=torch.from_numpy(images[:1]))

    variants: list[tuple[str, ir.Model, ir.Model, str | None]] = [("FP32", fp32, fp32, "f32")]
    if args.lowbit_only:
        return measure(args, lowbit_variants(args, model, train, images) , images, labels), full
    for dtype, hint in (("fp16", "f16"), ("bf16", "bf16")):
        m, _ = convert_float(fp32, dtype, compute=True)
        variants.append((f"{dtype.upper()} compute", m, m, hint))
        m, _ = convert_float(fp32, dtype, compute=False)
        variants.append((f"{dtype.upper()} weights only", m, m, "f32"))
    m, _ = quantize_dynamic(fp32)
    variants.append(("INT8 dynamic (Gemm)", m, m, "f32"))
    for method in OBSERVERS:
        t = time.time()
        r = quantize_static(fp32, calib, method=method)
        print(f"static {method}: calibrated and written in {time.time() - t:.1f} s")
        variants.append((f"INT8 static {method}", r.model, lower_int8(r.model), "f32"))

    # QAT: fine-tune the trained model under fake quantization (20,000 training images, 1 epoch), export QDQ
    from jiasu.compress.quantize.qat import convert_qat, prepare_qat
    from jiasu.train import fit

    t = time.time()
    qat = prepare_qat(model).train()
    fit(qat, train.take(args.qat_images) if hasattr(train, "take") else train, None, epochs=1, lr=1e-4, batch_size=128, progress=False, num_workers=0)
    r = convert_qat(qat.eval(), torch.from_numpy(images[:1]), calib)
    print(f"QAT: fine-tuned and written in {time.time() - t:.0f} s")
    variants.append(("INT8 QAT (minmax export)", r.model, lower_int8(r.model), "f32"))

    return measure(args, variants, images, labels), full


def lowbit_variants(args, model, train, images):
    """Binary and ternary weights (first conv and last fc kept float), fine-tuned from the trained model, bit-packed."""
    from jiasu.compress.quantize.lowbit import freeze_lowbit, pack_lowbit, prepare_lowbit
    from jiasu.train import fit

    out = []
    for kind in ("binary", "ternary"):
        t = time.time()
        low = prepare_lowbit(model, kind, skip=["conv1", "fc2"]).train()
        fit(low, train.take(args.lowbit_images), None, epochs=args.lowbit_epochs, lr=1e-3, batch_size=128, progress=False, num_workers=0)
        low.eval()
        packed, done = pack_lowbit(jiasu.load(freeze_lowbit(low), example_input=torch.from_numpy(images[:1])))
        print(f"{kind}: fine-tuned and packed ({done}) in {time.time() - t:.0f} s")
        out.append((f"{kind} weights (conv2, conv3, fc1; bit-packed)", packed, packed, None))
    return out


def measure(args, variants, images, labels):
    rows = []
    for name, m, em, hint in variants:
        row = {"variant": name, "bytes": len(ir.serde.serialize_model(m).SerializeToString())}
        for backend, fn in runners(m, em, hint).items():
            if isinstance(fn, str):
                row[backend] = {"error": fn}
                continue
            cell = {"accuracy": accuracy(fn, images, labels)}
            for batch in (1, 8):
                x = images[:batch].copy()
                cell[f"ms_b{batch}"] = median_ms(lambda: fn(x), args.repeats) / batch
                cell[f"min_ms_b{batch}"] = min_ms(lambda: fn(x), args.repeats) / batch
            row[backend] = cell
        rows.append(row)
        print(json.dumps(row))
    return rows


def resnet18_table(args) -> list[dict]:
    """resnet18, batch 8: every configuration timed in interleaved rounds (one run of each per round), so
    load from other processes on the shared machine hits all of them alike; min and median per image."""
    fp32 = jiasu.load("zoo:resnet18")
    x = np.random.default_rng(0).normal(size=(8, 3, 224, 224)).astype(np.float32)
    u8 = quantize_static(fp32, x, batch_size=8)
    s8 = quantize_static(fp32, x, batch_size=8, activation_type="int8", symmetric_activations=True)
    e32 = jiasu.Engine(fp32, threads=THREADS, conv_algorithm=CONV_ALGORITHM)
    e8 = jiasu.Engine(lower_int8(u8.model), threads=THREADS)
    s32, su8, ss8 = ort_session(fp32), ort_session(u8.model), ort_session(s8.model)
    r32, r8 = ov_request(fp32, "f32"), ov_request(u8.model, "f32")
    configs = {
        "jiasu FP32 (direct conv)": lambda: e32.run({"input": x}),
        f"jiasu INT8 (QDQ lowered to int8 kernels, torch quantized engine {torch.backends.quantized.engine})": lambda: e8.run({"input": x}),
        "onnxruntime FP32": lambda: s32.run(None, {"input": x}),
        "onnxruntime INT8 QDQ u8 activations / s8 weights": lambda: su8.run(None, {"input": x}),
        "onnxruntime INT8 QDQ s8 activations / s8 weights": lambda: ss8.run(None, {"input": x}),
        "openvino FP32 (INFERENCE_PRECISION_HINT=f32)": lambda: r32.infer({0: x}),
        "openvino INT8 QDQ u8/s8 (INFERENCE_PRECISION_HINT=f32)": lambda: r8.infer({0: x}),
    }
    times: dict[str, list[float]] = {name: [] for name in configs}
    for fn in configs.values():
        fn()
    for _ in range(args.resnet_repeats):
        for name, fn in configs.items():
            t = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t) * 1e3 / 8)
    rows = [{"config": n, "min_ms_per_image_b8": min(v), "median_ms_per_image_b8": statistics.median(v)} for n, v in times.items()]
    ref = su8.run(None, {"input": x})[0]
    y = e8.run({"input": x})["output"].numpy()
    rows.append({"config": "agreement jiasu INT8 vs onnxruntime INT8 (logits)", "max_abs": float(np.abs(y - ref).max()),
                 "rel_l2": float(np.linalg.norm(y - ref) / np.linalg.norm(ref))})
    for r in rows:
        print(json.dumps(r))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--resnet-repeats", type=int, default=5)
    p.add_argument("--qat-images", type=int, default=20000)
    p.add_argument("--lowbit-only", action="store_true", help="only the binary/ternary rows")
    p.add_argument("--lowbit-images", type=int, default=30000)
    p.add_argument("--lowbit-epochs", type=int, default=1)
    p.add_argument("--out", default="benchmarks/results/quantize")
    p.add_argument("--skip-resnet", action="store_true")
    p.add_argument("--skip-fashion", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(THREADS)
    import onnxruntime
    import openvino

    env = {
        "load_average_before": open("/proc/loadavg").read().split()[:3],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "quantized_engine": torch.backends.quantized.engine,
        "onnxruntime": onnxruntime.__version__,
        "openvino": openvino.__version__,
        "threads": THREADS,
        "jiasu_conv_algorithm": CONV_ALGORITHM,
    }
    result = {"environment": env}
    if not args.skip_fashion:
        result["fashion_mnist"], result["full_test_set"] = fashion_table(args)
    if not args.skip_resnet:
        result["resnet18_b8"] = resnet18_table(args)
    env["load_average_after"] = open("/proc/loadavg").read().split()[:3]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "quantize.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(env))
    for row in result.get("fashion_mnist", []):
        cells = []
        for b in ("jiasu", "onnxruntime", "openvino"):
            c = row.get(b, {})
            if "error" in c:
                cells.append("n/a")
            elif c:
                cells.append(f"{c['accuracy']:.2f}% / {c['ms_b1']:.3f} / {c['ms_b8']:.3f} (min {c['min_ms_b1']:.3f} / {c['min_ms_b8']:.3f})")
            else:
                cells.append("-")
        print(f"| {row['variant']} | {row['bytes'] / 1024:.0f} KiB | " + " | ".join(cells) + " |")
    for row in result.get("resnet18_b8", []):
        print(f"| {row['config']} | " + " | ".join(f"{k}={v}" for k, v in row.items() if k != "config") + " |")


if __name__ == "__main__":
    main()
