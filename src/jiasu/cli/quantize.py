"""`jiasu quantize` commands (registered on the shared app).

``jiasu quantize MODEL --mode static --calib DATA [--method entropy] -o out.onnx`` writes a quantized
ONNX model (static/dynamic INT8 as QDQ, FP16/BF16); ``--mode binary|ternary`` fine-tunes a torch
model (zoo:NAME or a jiasu-saved .pt) with low-bit weights and writes them bit-packed as
``jiasu::LowBit*`` nodes that only jiasu's engine runs; ``--sensitivity`` ranks the layers by how much
INT8 hurts them (and with ``--budget`` keeps the worst in float); ``--diagnose`` answers "why isn't
INT8 faster?" for this CPU and, given a model, for that model.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..errors import JiasuError
from . import MODEL_HELP, _friendly_errors, _print_json, app, console  # noqa: F401
from ..data import train_and_validation
from ..frontends.torch_module import TORCH_MODEL_HELP, load_torch
from .prune import _fit_options, save_outputs, start_training_command

#: --mode -> what it writes
MODES: dict[str, str] = {
    "static": "INT8 QDQ, activations calibrated (uint8 activations, int8 per-channel weights)",
    "dynamic": "INT8 weights for Gemm/MatMul, activations quantized per batch at run time",
    "fp16": "float16 weights and arithmetic (--weights-only: float16 storage, float32 arithmetic)",
    "bf16": "bfloat16 weights and arithmetic (--weights-only: bfloat16 storage, float32 arithmetic)",
    "binary": "binary weights (sign x per-channel scale), STE fine-tuned, bit-packed 1 bit per weight",
    "ternary": "ternary weights ({-a, 0, +a} per channel), STE fine-tuned, bit-packed 2 bits per weight",
}
#: modes that train a torch model (binary/ternary weights, jiasu.compress.quantize.lowbit)
LOWBIT_MODES = ("binary", "ternary")
DATA_HELP = "calibration images: fashion-mnist, fashion-mnist-subset, an image folder, or a .npy/.npz file"
LAYERS_HELP = (
    "binary/ternary: torch name of a Conv2d/Linear layer to give low-bit weights (repeatable or comma-separated; "
    "default: all of them but the first and the last, e.g. the first conv and the last fc, which stay float32)"
)
ENGINE_ONLY_NOTE = (
    "the .onnx holds jiasu::LowBitConv/LowBitGemm nodes (not standard ONNX): only jiasu's engine runs it, "
    "ONNX Runtime and OpenVINO do not; the .pt twin holds the same weights as a plain torch module"
)


def _model_bytes(model) -> int:
    import onnx_ir as ir

    return len(ir.serde.serialize_model(model).SerializeToString())


def _eval_data(spec: str, model, limit: int):
    """(images, labels or None) for sensitivity: the test split of Fashion-MNIST specs, else the data itself."""
    import numpy as np

    from ..data import load_data

    split = "test" if spec.startswith("fashion-mnist") else "train"
    data = load_data(spec, split=split, limit=limit)
    images, labels = data.numpy()
    return np.asarray(images, np.float32), np.asarray(labels)


def _diagnose(model_spec: Optional[str]) -> dict:
    from ..compress.quantize.diagnostics import cpu_features, float_nodes, qdq_overhead
    from ..frontends import load

    cpu = cpu_features()
    info: dict = {"cpu": {"model": cpu.model, "flags": cpu.flags, "int8_dot_product": cpu.int8_dot_product}, "advice": cpu.advice()}
    if model_spec:
        from ..passes.lower_int8 import lower_int8
        from ..frontends.inputs import example_feeds
        from ..runtime.engine import Engine

        model = load(model_spec)
        rep = float_nodes(model)
        info["model"] = {"name": model_spec, **rep.as_dict()}
        if rep.qdq == 0:
            info["advice"].append("the model has no QuantizeLinear/DequantizeLinear: it is not quantized; run jiasu quantize --mode static first")
        else:
            feeds = example_feeds(model, batch=8)
            info["qdq_overhead"] = qdq_overhead(Engine(model), feeds)
            lowered = lower_int8(model)
            info["after_lowering"] = float_nodes(lowered).as_dict()
            info["after_lowering"]["qdq_overhead_ms"] = qdq_overhead(Engine(lowered), feeds)["qdq_ms"]
            if rep.float:
                info["advice"].append(
                    f"{len(rep.float)} compute node(s) still run in float ({', '.join(rep.float[:5])}{'...' if len(rep.float) > 5 else ''}); "
                    "each float island costs a DequantizeLinear/QuantizeLinear pass over its tensors"
                )
            share = info["qdq_overhead"]["qdq_share"]
            info["advice"].append(
                f"Q/DQ nodes take {share:.0%} of an unlowered run on jiasu's engine; the lower_int8 pass (jiasu.passes.lower_int8) "
                f"leaves {info['after_lowering']['qdq_nodes']} of them"
            )
    return info


@app.command("quantize")
@_friendly_errors
def quantize_cmd(
    model: Optional[str] = typer.Argument(None, help=MODEL_HELP + "; binary/ternary: " + TORCH_MODEL_HELP),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="where to write the quantized .onnx"),
    mode: str = typer.Option("static", "--mode", help="static | dynamic | fp16 | bf16 | binary | ternary"),
    calib: Optional[str] = typer.Option(None, "--calib", help=DATA_HELP),
    method: str = typer.Option("minmax", "--method", help="calibration method: minmax | percentile | entropy | mse"),
    calib_limit: int = typer.Option(512, "--calib-limit", help="calibration images used"),
    per_tensor: bool = typer.Option(False, "--per-tensor", help="one weight scale per tensor (default: per output channel)"),
    keep_float: List[str] = typer.Option([], "--keep-float", help="node name to leave in float (repeatable)"),
    weights_only: bool = typer.Option(False, "--weights-only", help="fp16/bf16: 16-bit storage, float32 arithmetic (runs everywhere)"),
    sensitivity: bool = typer.Option(False, "--sensitivity", help="rank layers by the damage INT8 does to each (needs --calib)"),
    budget: Optional[float] = typer.Option(None, "--budget", help="with --sensitivity: accuracy drop allowed (points); keeps the worst layers in float"),
    eval_limit: int = typer.Option(1000, "--eval-limit", help="with --sensitivity: evaluation images"),
    reduce_range: Optional[bool] = typer.Option(
        None, "--reduce-range/--full-range",
        help="static/dynamic: weights in 7 bits (-64..64) or 8; default: 7 where this CPU has no VNNI/AMX, whose int8 products would saturate",
    ),
    diagnose: bool = typer.Option(False, "--diagnose", help="why isn't INT8 faster? CPU features, float nodes, Q/DQ overhead"),
    data: str = typer.Option("fashion-mnist", "--data", help="binary/ternary: training data: fashion-mnist, fashion-mnist-subset, a folder or .npz"),
    finetune_epochs: int = typer.Option(1, "--finetune-epochs", min=0, help="binary/ternary: fine-tuning epochs with the straight-through estimator"),
    pretrain_epochs: int = typer.Option(0, "--pretrain-epochs", min=0, help="binary/ternary: train the float model first (for an untrained zoo model)"),
    layers: List[str] = typer.Option([], "--layers", help=LAYERS_HELP),
    lr: float = typer.Option(1e-3, "--lr", help="binary/ternary: learning rate (Adam)"),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="binary/ternary: training batch size"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="binary/ternary: use only the first N training images"),
    workers: int = typer.Option(1, "--workers", min=0, help="binary/ternary: DataLoader background workers"),
    threads: int = typer.Option(0, "--threads", min=0, help="binary/ternary: torch threads (0: torch's default)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
):
    """Quantize a model (static/dynamic INT8, FP16, BF16, binary/ternary weights), rank layer sensitivity, or diagnose INT8 speed."""
    from ..compress.quantize import OBSERVERS

    if diagnose:
        info = _diagnose(model)
        if as_json:
            return _print_json(info)
        flags = ", ".join(f for f, on in info["cpu"]["flags"].items() if on) or "(none)"
        console.print(f"[bold]CPU[/] {info['cpu']['model']}: {flags}")
        if "model" in info:
            m = info["model"]
            console.print(f"[bold]{m['name']}[/]: {m['int8_nodes']} int8 nodes, {m['float_nodes']} float nodes, {m['qdq_nodes']} Q/DQ nodes")
            if "qdq_overhead" in info:
                o = info["qdq_overhead"]
                console.print(f"  Q/DQ time on jiasu (unlowered, batch 8): {o['qdq_ms']:.2f} of {o['total_ms']:.2f} ms ({o['qdq_share']:.0%})")
                for name, ms in list(o["per_node_ms"].items())[:10]:
                    console.print(f"    {ms:8.3f} ms  {name}")
        for line in info["advice"]:
            console.print(f"- {line}")
        return
    if model is None:
        raise JiasuError("jiasu quantize needs a MODEL (an .onnx file or zoo:NAME), except with --diagnose")
    if mode not in MODES:
        raise JiasuError(f"unknown --mode {mode!r}; choose one of: {', '.join(MODES)}")
    if mode in LOWBIT_MODES and not sensitivity:
        if calib is not None:
            raise JiasuError(f"--mode {mode} fine-tunes on training data: give it as --data DATA, not --calib")
        return _lowbit(model, mode, output, data, pretrain_epochs, finetune_epochs, layers, lr, batch_size, limit, workers, threads, as_json)
    if method not in OBSERVERS:
        raise JiasuError(f"unknown --method {method!r}; choose one of: {', '.join(OBSERVERS)}")
    from ..frontends import load

    source = load(model)
    if sensitivity:
        return _sensitivity(model, source, calib, method, calib_limit, eval_limit, budget, per_tensor, output, as_json)
    if output is None:
        raise JiasuError("missing -o/--output: where to write the quantized model, e.g. -o model_int8.onnx")
    info: dict = {"model": model, "mode": mode, "output": str(output), "bytes_before": _model_bytes(source)}
    if mode in ("static", "dynamic"):
        from ..compress.quantize.qparams import resolve_reduce_range

        reduce_range = info["reduce_range"] = resolve_reduce_range(reduce_range)
    if mode == "static":
        if calib is None:
            raise JiasuError(f"--mode static needs calibration data: --calib DATA ({DATA_HELP})")
        from ..compress.quantize import quantize_static

        r = quantize_static(source, calib, method=method, per_channel=not per_tensor, exclude=keep_float, limit=calib_limit, reduce_range=reduce_range)
        result = r.model
        info.update(method=method, quantized_nodes=r.plan.nodes, calibrated_tensors=len(r.params))
    elif mode == "dynamic":
        from ..compress.quantize.dynamic import quantize_dynamic

        result, done = quantize_dynamic(source, exclude=keep_float, reduce_range=reduce_range)
        info.update(quantized_nodes=done)
    else:
        from ..compress.quantize.float16 import convert_float

        result, rep = convert_float(source, mode, compute=not weights_only)
        info.update(weights_only=weights_only, converted_initializers=rep.converted, clipped_values=rep.clipped)
    from ..compress.quantize.diagnostics import float_nodes

    import onnx_ir as ir

    output.parent.mkdir(parents=True, exist_ok=True)
    ir.save(result, output)
    info["bytes_after"] = output.stat().st_size
    if mode in ("static", "dynamic"):
        info["float_nodes"] = float_nodes(result).as_dict()["float"]
    if as_json:
        return _print_json(info)
    console.print(
        f"wrote [bold]{output}[/] ({MODES[mode]}): {info['bytes_before'] / 1e6:.2f} MB -> {info['bytes_after'] / 1e6:.2f} MB"
    )
    if "quantized_nodes" in info:
        console.print(f"  {len(info['quantized_nodes'])} node(s) quantized; {len(info.get('float_nodes', []))} compute node(s) left in float")
    if info.get("reduce_range"):
        console.print("  weights in 7 bits (-64..64): without VNNI, int8 products of 8-bit weights saturate in ONNX Runtime and torch (--full-range to keep 8)")


def _sensitivity(spec, source, calib, method, calib_limit, eval_limit, budget, per_tensor, output, as_json):
    from rich.table import Table

    from ..compress.quantize.sensitivity import layer_sensitivity, mixed_precision

    if calib is None:
        raise JiasuError(f"--sensitivity needs calibration data: --calib DATA ({DATA_HELP})")
    images, labels = _eval_data(calib, source, eval_limit)
    opts = dict(method=method, per_channel=not per_tensor, limit=calib_limit)
    info: dict = {"model": spec, "method": method, "evaluation_images": len(images)}
    if budget is not None:
        mixed = mixed_precision(source, calib, images, labels, budget=budget, **opts)
        ranking = mixed.ranking
        info.update(
            budget=budget, kept_float=mixed.kept_float, float_accuracy=mixed.float_accuracy,
            int8_accuracy=mixed.int8_accuracy, mixed_accuracy=mixed.accuracy,
        )
        if output is not None:
            import onnx_ir as ir

            ir.save(mixed.result.model, output)
            info["output"] = str(output)
    else:
        ranking, _ = layer_sensitivity(source, calib, images, labels, **opts)
    info["layers"] = [{"name": r.name, "op": r.op_type, "relative_error": r.relative_error, "accuracy": r.accuracy} for r in ranking]
    if as_json:
        return _print_json(info)
    table = Table(title=f"per-layer INT8 sensitivity ({method}, {len(images)} images; most sensitive first)")
    for col in ("layer", "op", "output rel. error", "accuracy (%)"):
        table.add_column(col)
    for r in info["layers"]:
        table.add_row(r["name"], r["op"], f"{r['relative_error']:.2e}", "-" if r["accuracy"] is None else f"{r['accuracy']:.2f}")
    console.print(table)
    if budget is not None:
        console.print(
            f"float {info['float_accuracy']:.2f}%, all INT8 {info['int8_accuracy']:.2f}%, mixed {info['mixed_accuracy']:.2f}% "
            f"with {len(info['kept_float'])} layer(s) in float: {', '.join(info['kept_float']) or '(none)'}"
        )


def _lowbit_layers(module, layers: List[str]) -> tuple[list[str], list[str]]:
    """(the layers to make low-bit, all Conv2d/Linear layers) of ``module``; ``layers`` empty: all but the first and last."""
    from ..compress.quantize.lowbit import _SWAP

    candidates = [name for name, m in module.named_modules() if type(m) in _SWAP]
    if not candidates:
        raise JiasuError("the model has no Conv2d/Linear layer: nothing to give low-bit weights")
    asked = [part.strip() for item in layers for part in item.split(",") if part.strip()]
    if not asked:
        chosen = candidates[1:-1]
        if not chosen:
            raise JiasuError(
                f"the model has only {len(candidates)} Conv2d/Linear layer(s) ({', '.join(candidates)}); the default keeps the first "
                "and the last in float32, which leaves none: name the layers with --layers"
            )
        return chosen, candidates
    unknown = [name for name in asked if name not in candidates]
    if unknown:
        raise JiasuError(
            f"unknown --layers {', '.join(map(repr, unknown))}; the model's Conv2d/Linear layers are: {', '.join(candidates)}"
        )
    return [name for name in candidates if name in asked], candidates


def _engine_check(engine, module, val, batch: int = 500) -> dict:
    """Accuracy of ``engine`` on ``val`` and its agreement with the torch ``module`` (max |error|, argmax match)."""
    import numpy as np
    import torch

    images, labels = val.numpy()
    images, labels = np.asarray(images, np.float32), np.asarray(labels)
    hits = same = 0
    max_err = 0.0
    module.eval()
    for i in range(0, len(images), batch):
        x = images[i : i + batch]
        got = engine.run_numpy({"input": x})["output"]
        with torch.no_grad():
            ref = module(torch.from_numpy(x)).numpy()
        max_err = max(max_err, float(np.abs(got - ref).max()))
        hits += int((got.argmax(1) == labels[i : i + batch]).sum())
        same += int((got.argmax(1) == ref.argmax(1)).sum())
    n = len(images)
    return {"engine_accuracy": hits / n, "max_abs_error_engine_vs_torch": max_err, "argmax_agreement_engine_vs_torch": same / n, "checked_images": n}


def _lowbit(spec, kind, output, data, pretrain_epochs, finetune_epochs, layers, lr, batch_size, limit, workers, threads, as_json):
    """--mode binary|ternary: STE fine-tuning of a torch model, bit-packed export, engine check (see module docstring)."""
    import os


    import jiasu
    from ..compress.quantize.lowbit import freeze_lowbit, pack_lowbit, prepare_lowbit
    from ..train import evaluate, fit

    if Path(spec).suffix == ".onnx":
        raise JiasuError(
            f"{spec}: --mode {kind} fine-tunes the weights with the straight-through estimator, so it needs torch weights, "
            f"not ONNX; give {TORCH_MODEL_HELP}"
        )
    if output is None:
        raise JiasuError(f"missing -o/--output: where to write the bit-packed model, e.g. -o model_{kind}.onnx")
    start_training_command(output, threads)
    module, example = load_torch(spec)
    chosen, candidates = _lowbit_layers(module, layers)
    train, val = train_and_validation(data, tuple(example.shape), limit)
    info: dict = {
        "model": spec, "mode": kind, "data": data, "layers": chosen,
        "float_layers": [name for name in candidates if name not in chosen], "finetune_epochs": finetune_epochs,
    }
    opts = _fit_options(lr, batch_size, workers, None, False, not as_json)
    if pretrain_epochs:
        fit(module.train(), train, None, epochs=pretrain_epochs, description="pretrain", **opts)
        info["pretrain_epochs"] = pretrain_epochs
    info["fp32_accuracy"] = evaluate(module, val).accuracy
    low = prepare_lowbit(module, kind, skip=info["float_layers"])
    info["lowbit_accuracy_before_finetune"] = evaluate(low, val).accuracy
    if finetune_epochs:
        fit(low.train(), train, None, epochs=finetune_epochs, description=f"{kind} STE finetune", **opts)
    frozen = freeze_lowbit(low).eval()
    info["accuracy"] = evaluate(frozen, val).accuracy
    # The float32 export of the frozen module (and its .pt twin): the size reference and the FP32-engine check.
    saved = save_outputs(frozen, example, output)
    info.update(torch_file=saved["torch_file"], fp32_onnx_bytes=saved["onnx_bytes"], max_abs_error_fp32_onnx_vs_torch=saved["max_abs_error_engine_vs_torch"])
    try:
        packed, done = pack_lowbit(jiasu.load(output.read_bytes()))
        if not done:
            raise JiasuError(f"no layer could be bit-packed: the exported weights of {', '.join(chosen)} are not per-channel {kind} values")
        import onnx_ir as ir

        tmp = output.with_name(output.name + ".tmp")
        ir.save(packed, tmp)
        os.replace(tmp, output)
    except BaseException:
        output.unlink(missing_ok=True)  # never leave the float32 export under the packed model's name
        raise
    info.update(onnx=str(output), onnx_bytes=output.stat().st_size, packed_nodes=done)
    info["size_ratio_fp32_over_packed"] = info["fp32_onnx_bytes"] / info["onnx_bytes"]
    info["lowbit_ops"] = sorted({f"{n.domain}::{n.op_type}" for n in packed.graph if n.domain == "jiasu"})
    info.update(_engine_check(jiasu.Engine(jiasu.load(output)), frozen, val))
    if len(done) < len(chosen):
        info["warning"] = f"only {len(done)} of the {len(chosen)} low-bit layers were packed ({', '.join(done)}); the others are stored as float32"
    info["note"] = ENGINE_ONLY_NOTE
    if as_json:
        return _print_json(info)
    console.print(f"[bold]{kind}[/] weights on {', '.join(chosen)} (float32: {', '.join(info['float_layers']) or 'none'})")
    console.print(
        f"accuracy on {info['checked_images']:,} validation images: FP32 {info['fp32_accuracy']:.2%} -> {kind} "
        f"{info['lowbit_accuracy_before_finetune']:.2%} before fine-tuning, {info['accuracy']:.2%} after {finetune_epochs} STE epoch(s) "
        f"(torch); jiasu engine {info['engine_accuracy']:.2%}"
    )
    console.print(
        f"size: FP32 ONNX {info['fp32_onnx_bytes'] / 1e3:,.1f} kB -> bit-packed {info['onnx_bytes'] / 1e3:,.1f} kB "
        f"({info['size_ratio_fp32_over_packed']:.1f}x smaller); {len(done)} node(s) packed: {', '.join(done)}"
    )
    console.print(
        f"engine vs torch ({info['torch_file']}) on {info['checked_images']:,} images: max |error| "
        f"{info['max_abs_error_engine_vs_torch']:.2e}, same top-1 on {info['argmax_agreement_engine_vs_torch']:.2%}"
    )
    if "warning" in info:
        console.print(f"[yellow]warning:[/] {info['warning']}")
    console.print(f"wrote {info['onnx']} and {info['torch_file']}; note: {ENGINE_ONLY_NOTE}")
