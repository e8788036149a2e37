"""`jiasu prune` and `jiasu distill` commands (registered on the shared app).

Both train, so both take a torch model: ``zoo:NAME[?options]`` (seeded, untrained
unless ``--pretrain-epochs``) or a ``.pt`` file holding a whole ``nn.Module``
(what ``-o`` writes next to the ONNX file). ``-o out.onnx`` writes the result as
ONNX (checked against torch on our engine) and as ``out.pt`` for further steps.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Optional

import typer

from ..data import train_and_validation
from ..errors import JiasuError
from ..frontends.torch_module import TORCH_MODEL_HELP, load_torch
from . import _friendly_errors, _print_json, app, console


def save_outputs(module, example, output: Path) -> dict:
    """Write ``output`` (.onnx) and its ``.pt`` twin; the max |engine - torch| on the example and the sizes."""
    import torch

    import jiasu
    from ..frontends import export_module

    output.parent.mkdir(parents=True, exist_ok=True)
    module = module.eval()
    onnx_bytes = export_module(module, example)
    output.write_bytes(onnx_bytes)
    pt = output.with_suffix(".pt")
    torch.save({"module": module, "example_input": example}, pt)
    with torch.no_grad():
        expected = module(example)
    got = jiasu.Engine(jiasu.load(onnx_bytes)).run({"input": example})["output"]
    return {"onnx": str(output), "onnx_bytes": len(onnx_bytes), "torch_file": str(pt), "max_abs_error_engine_vs_torch": float((got - expected).abs().max())}


def start_training_command(output: Path, threads: int, schedule: str = "constant") -> None:
    """What every command that retrains and writes a model checks and sets first: ``-o`` names an .onnx file,
    ``schedule`` is one ``fit`` knows, and torch runs on ``threads`` threads (0: torch's default)."""
    import torch

    from ..train.loop import check_schedule

    if output.suffix != ".onnx":
        raise JiasuError(f"-o must name an .onnx file, got {output}")
    check_schedule(schedule)
    if threads:
        torch.set_num_threads(threads)


def _fit_options(lr, batch_size, workers, checkpoint, resume, progress, schedule="constant"):
    return {"lr": lr, "batch_size": batch_size, "num_workers": workers, "checkpoint": checkpoint, "resume": resume, "progress": progress, "schedule": schedule}


def _augmented(train, augment: bool):
    """``train`` as is, or shifted and flipped at random on every epoch (``--augment``)."""
    if not augment:
        return train
    from ..data.augment import RandomCropFlip

    return RandomCropFlip(train)


SCHEDULE_HELP = "learning rate over the epochs: constant | cosine (decays to 0; better for retraining)"
AUGMENT_HELP = (
    "retrain on training images shifted by up to 2 pixels and mirrored left-right at random "
    "(pays most when labelled images are few; not for data where a mirror changes the class, such as text)"
)


@app.command("prune")
@_friendly_errors
def prune_cmd(
    model: str = typer.Argument(..., help=TORCH_MODEL_HELP),
    method: str = typer.Option("magnitude", "--method", help="magnitude | random (unstructured) | channel (structured)"),
    sparsity: float = typer.Option(0.9, "--sparsity", help="fraction of weights (magnitude, random) or of channels (channel) to remove"),
    scope: str = typer.Option("global", "--scope", help="global | layer: one threshold over all layers, or the same fraction per layer"),
    data: str = typer.Option("fashion-mnist", "--data", help="training data: fashion-mnist, fashion-mnist-subset, a folder or .npz"),
    finetune_epochs: int = typer.Option(1, "--finetune-epochs", min=0, help="retraining epochs after each pruning step"),
    steps: int = typer.Option(1, "--steps", min=1, help="gradual pruning steps (unstructured)"),
    pretrain_epochs: int = typer.Option(0, "--pretrain-epochs", min=0, help="train the dense model first (for an untrained zoo model)"),
    distill_from_dense: bool = typer.Option(False, "--distill", help="retrain with the dense model as teacher (soft + hard labels)"),
    importance: str = typer.Option("l1", "--importance", help="channel ranking: l1 | l2 | bn"),
    round_to: Optional[int] = typer.Option(None, "--round-to", min=1, help="keep pruned widths multiples of N (channel; 8 suits vector kernels)"),
    lr: float = typer.Option(1e-3, "--lr", help="learning rate (Adam)"),
    schedule: str = typer.Option("constant", "--schedule", help=SCHEDULE_HELP),
    augment: bool = typer.Option(False, "--augment", help=AUGMENT_HELP),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    workers: int = typer.Option(1, "--workers", min=0, help="DataLoader background workers"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="use only the first N training images"),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="training checkpoint file (written every epoch)"),
    resume: bool = typer.Option(False, "--resume", help="continue from --checkpoint if it exists"),
    threads: int = typer.Option(0, "--threads", min=0, help="torch threads (0: torch's default)"),
    output: Path = typer.Option(..., "-o", "--output", help="where to write the pruned model (.onnx, plus a .pt twin)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
):
    """Prune a model (unstructured masks or removed channels), retrain it on DATA, export it."""

    from ..compress.distill import DistillationLoss
    from ..compress.prune import count_nonzero, iterative_prune, make_permanent, prune_channels
    from ..train import evaluate, fit

    if method not in ("magnitude", "random", "channel"):
        raise JiasuError(f"unknown method {method!r}; choose magnitude, random or channel")
    start_training_command(output, threads, schedule)
    module, example = load_torch(model)
    train, val = train_and_validation(data, tuple(example.shape), limit)
    train = _augmented(train, augment)
    progress = not as_json
    opts = _fit_options(lr, batch_size, workers, None, False, progress, schedule)
    if pretrain_epochs:
        pre_ckpt = checkpoint.with_name(checkpoint.name + ".pretrain") if checkpoint is not None else None
        fit(module.train(), train, None, epochs=pretrain_epochs, description="pretrain", **dict(opts, checkpoint=pre_ckpt, resume=resume))
    dense_acc = evaluate(module, val).accuracy
    dense_nonzero, dense_total = count_nonzero(module)
    teacher = copy.deepcopy(module).eval() if distill_from_dense else None
    loss_fn = DistillationLoss(teacher) if teacher is not None else None
    opts.update(checkpoint=checkpoint, resume=resume)
    info = {"model": model, "method": method, "sparsity": sparsity, "data": data, "schedule": schedule, "augment": augment, "dense_accuracy": dense_acc}
    if method == "channel":
        result = prune_channels(module, example, sparsity, importance=importance, round_to=round_to)
        info["pruned_accuracy_before_finetune"] = evaluate(module, val).accuracy
        if finetune_epochs:
            fit(module.train(), train, None, epochs=finetune_epochs, loss_fn=loss_fn, description="finetune", **opts)
        info.update(macs_before=result.macs_before, macs_after=result.macs_after, params_before=result.params_before, params_after=result.params_after)
    else:
        records = iterative_prune(module, train, val, sparsity, steps=steps, epochs_per_step=finetune_epochs, method=method, scope=scope, loss_fn=loss_fn, **opts)
        info["steps"] = [r.__dict__ for r in records]
        make_permanent(module)
    info["accuracy"] = evaluate(module, val).accuracy
    nonzero, total = count_nonzero(module)
    info.update(nonzero_params_before=dense_nonzero, params_total_before=dense_total, nonzero_params=nonzero, params_total=total)
    info.update(save_outputs(module, example, output))
    if as_json:
        return _print_json(info)
    console.print(
        f"[bold]{method}[/] {sparsity:.0%}: accuracy {dense_acc:.2%} -> {info['accuracy']:.2%}, "
        f"non-zero parameters {dense_nonzero:,} -> {nonzero:,} (of {total:,})"
    )
    if method == "channel":
        console.print(f"MACs {info['macs_before']:,} -> {info['macs_after']:,} ({info['macs_after'] / info['macs_before']:.1%})")
    console.print(f"wrote {info['onnx']} and {info['torch_file']}; engine vs torch max |error| {info['max_abs_error_engine_vs_torch']:.2e}")


@app.command("distill")
@_friendly_errors
def distill_cmd(
    teacher: str = typer.Option(..., "--teacher", help=TORCH_MODEL_HELP),
    student: str = typer.Option(..., "--student", help=TORCH_MODEL_HELP),
    data: str = typer.Option("fashion-mnist", "--data", help="training data: fashion-mnist, fashion-mnist-subset, a folder or .npz"),
    epochs: int = typer.Option(1, "--epochs", min=0),
    teacher_epochs: int = typer.Option(0, "--teacher-epochs", min=0, help="train the teacher first (for an untrained zoo model)"),
    temperature: float = typer.Option(4.0, "--temperature", help="softmax temperature of the soft targets"),
    alpha: float = typer.Option(0.7, "--alpha", help="weight of the soft loss (1 - alpha: hard labels)"),
    hard: str = typer.Option("labels", "--hard", help="hard targets: labels (true) | teacher (its argmax)"),
    lr: float = typer.Option(1e-3, "--lr"),
    schedule: str = typer.Option("constant", "--schedule", help=SCHEDULE_HELP),
    augment: bool = typer.Option(False, "--augment", help=AUGMENT_HELP + "; the teacher labels the same shifted image the student sees"),
    batch_size: int = typer.Option(64, "--batch-size", min=1),
    workers: int = typer.Option(1, "--workers", min=0, help="DataLoader background workers"),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="use only the first N training images"),
    checkpoint: Optional[Path] = typer.Option(None, "--checkpoint", help="training checkpoint file (written every epoch)"),
    resume: bool = typer.Option(False, "--resume", help="continue from --checkpoint if it exists"),
    threads: int = typer.Option(0, "--threads", min=0, help="torch threads (0: torch's default)"),
    output: Path = typer.Option(..., "-o", "--output", help="where to write the student (.onnx, plus a .pt twin)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
):
    """Train a student from a teacher's soft labels (temperature-scaled KL) mixed with hard labels."""

    from ..compress.distill import distill
    from ..train import evaluate, fit

    start_training_command(output, threads, schedule)
    t_module, t_example = load_torch(teacher)
    s_module, s_example = load_torch(student)
    if tuple(t_example.shape) != tuple(s_example.shape):
        raise JiasuError(f"teacher and student take different inputs: {tuple(t_example.shape)} vs {tuple(s_example.shape)}")
    train, val = train_and_validation(data, tuple(s_example.shape), limit)
    train = _augmented(train, augment)
    progress = not as_json
    opts = _fit_options(lr, batch_size, workers, None, False, progress, schedule)
    if teacher_epochs:
        fit(t_module.train(), train, None, epochs=teacher_epochs, description="teacher", **opts)
    opts.update(checkpoint=checkpoint, resume=resume)
    distill(t_module, s_module.train(), train, None, temperature=temperature, alpha=alpha, hard=hard, epochs=epochs, **opts)
    info = {
        "teacher": teacher,
        "student": student,
        "data": data,
        "schedule": schedule,
        "augment": augment,
        "teacher_accuracy": evaluate(t_module, val).accuracy,
        "student_accuracy": evaluate(s_module, val).accuracy,
        "teacher_params": sum(p.numel() for p in t_module.parameters()),
        "student_params": sum(p.numel() for p in s_module.parameters()),
    }
    info.update(save_outputs(s_module, s_example, output))
    if as_json:
        return _print_json(info)
    console.print(
        f"teacher {info['teacher_accuracy']:.2%} ({info['teacher_params']:,} parameters) -> "
        f"student {info['student_accuracy']:.2%} ({info['student_params']:,} parameters)"
    )
    console.print(f"wrote {info['onnx']} and {info['torch_file']}; engine vs torch max |error| {info['max_abs_error_engine_vs_torch']:.2e}")
