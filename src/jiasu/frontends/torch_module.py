"""Export a ``torch.nn.Module`` to ONNX (opset >= 17, dynamic batch axis) and load it."""

from __future__ import annotations

import io
import warnings
from typing import Sequence, Union

import onnx_ir as ir
import torch

from ..errors import JiasuError
from .onnx_file import load_onnx

DEFAULT_OPSET = 17

ExampleInputs = Union[torch.Tensor, Sequence[torch.Tensor]]


def _as_tuple(example: ExampleInputs) -> tuple[torch.Tensor, ...]:
    return (example,) if isinstance(example, torch.Tensor) else tuple(example)


def export_module(
    module: torch.nn.Module,
    example_inputs: ExampleInputs,
    *,
    opset: int = DEFAULT_OPSET,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_batch: bool = True,
    keep_batchnorm: bool = False,
) -> bytes:
    """Serialized ONNX of ``module`` in eval mode, traced on ``example_inputs``.

    Every input and output gets a symbolic batch axis (dim 0, named ``batch``)
    unless ``dynamic_batch`` is False. Uses the TorchScript exporter: it is fast
    (seconds, not tens of seconds, on the zoo's large nets) and emits the
    classic CNN ops (GlobalAveragePool, Flatten, Gemm) our passes match.

    In eval mode the exporter folds every BatchNorm into the Conv before it;
    ``keep_batchnorm=True`` keeps them as inference-mode ``BatchNormalization``
    nodes (``training_mode=0``, running statistics), which is what
    ``jiasu.passes``' BN folding works on.
    """
    if opset < DEFAULT_OPSET:
        raise JiasuError(f"opset {opset} is too old: jiasu exports at opset >= {DEFAULT_OPSET}")
    args = _as_tuple(example_inputs)
    module = module.eval()
    with torch.no_grad():
        outputs = module(*args)
    n_out = 1 if isinstance(outputs, torch.Tensor) else len(outputs)
    input_names = list(input_names) if input_names else (["input"] if len(args) == 1 else [f"input{i}" for i in range(len(args))])
    output_names = list(output_names) if output_names else (["output"] if n_out == 1 else [f"output{i}" for i in range(n_out)])
    dynamic_axes = {name: {0: "batch"} for name in input_names + output_names} if dynamic_batch else None
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            buffer,
            dynamo=False,
            opset_version=opset,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            do_constant_folding=True,
            # PRESERVE on an eval-mode module exports BN as it is (inference mode) instead of folding it.
            training=torch.onnx.TrainingMode.PRESERVE if keep_batchnorm else torch.onnx.TrainingMode.EVAL,
        )
    return buffer.getvalue()


def load_module(module: torch.nn.Module, example_inputs: ExampleInputs, **kwargs) -> ir.Model:
    """``module`` exported to ONNX (see :func:`export_module`) and loaded as our graph."""
    if example_inputs is None:
        raise JiasuError("loading a torch.nn.Module needs an example input (example_input=torch.randn(1, 3, 224, 224), say)")
    return load_onnx(export_module(module, example_inputs, **kwargs))


TORCH_MODEL_HELP = "zoo:NAME[?key=value&...] or a .pt file holding an nn.Module (as written by jiasu prune/distill -o)"


def load_torch(spec: str):
    """(module, example input of batch 1) for a model with torch weights (see TORCH_MODEL_HELP).

    Training (pruning, distillation, low-bit fine-tuning) needs the weights as a torch module, so an
    ONNX file is refused with the reason.
    """
    from pathlib import Path

    from .zoo_name import PREFIX, zoo_model_and_input

    if spec.startswith(PREFIX):
        return zoo_model_and_input(spec)
    path = Path(spec)
    if path.suffix == ".onnx":
        raise JiasuError(f"{spec}: this step trains the model, so it needs torch weights; give {TORCH_MODEL_HELP}")
    if not path.is_file():
        raise JiasuError(f"model file not found: {path}; give {TORCH_MODEL_HELP}")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # torch.load raises many types on a bad file
        raise JiasuError(f"cannot read {path} as a torch file ({type(e).__name__}: {e})") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("module"), torch.nn.Module):
        raise JiasuError(f"{path} does not hold a jiasu-saved nn.Module; save one with jiasu prune/distill -o, or give a zoo model")
    return saved["module"], saved["example_input"]
