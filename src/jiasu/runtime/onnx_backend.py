"""ONNX backend API (``onnx.backend.base``) over jiasu's engine.

This is what lets ONNX's own backend test suite (``onnx.backend.test``) run
against our kernels, and gives tools that speak the backend API a way in::

    from jiasu.runtime.onnx_backend import prepare
    rep = prepare(model_proto)              # or JiasuBackend.prepare(..., device="CUDA:0")
    outputs = rep.run([x])                  # numpy arrays, in graph-output order

Inputs are given positionally in graph-input order (a single array is taken as
the first input) or as a ``{name: array}`` dict. Outputs come back as numpy
arrays in graph-output order, as a tuple that is also indexable by output name.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import numpy as np
import onnx
import onnx_ir as ir
import torch
from onnx.backend.base import Backend, BackendRep, Device, DeviceType, namedtupledict

from ..errors import JiasuError
from ..frontends.onnx_file import load_onnx
from .engine import Engine
from .options import EngineOptions

try:  # numpy has no bfloat16; onnx ships ml_dtypes for it
    import ml_dtypes

    _NP_BFLOAT16: Optional[np.dtype] = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - ml_dtypes comes with onnx
    _NP_BFLOAT16 = None


def torch_device(device: str) -> str:
    """The torch device for an ONNX backend device string ("CPU", "CUDA", "CUDA:1")."""
    parsed = Device(device)
    if parsed.type == DeviceType.CPU:
        return "cpu"
    return f"cuda:{parsed.device_id}"


def _to_torch(value: Any, device: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    array = np.asarray(value)
    if _NP_BFLOAT16 is not None and array.dtype == _NP_BFLOAT16:
        bits = np.array(array, copy=True).view(np.int16)  # np.array keeps rank 0, ascontiguousarray would not
        return torch.from_numpy(bits).view(torch.bfloat16).to(device)
    if not array.flags.writeable or any(s < 0 for s in array.strides):
        array = array.copy()  # torch.from_numpy refuses negative strides and warns on read-only buffers
    return torch.from_numpy(array).to(device)


def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
    """A numpy copy: on CPU ``.numpy()`` would share memory with engine-owned tensors (a Constant's value, a
    passed-through input), and a caller writing into the result would change later runs."""
    tensor = tensor.detach()
    if tensor.dtype == torch.bfloat16 and _NP_BFLOAT16 is not None:
        return tensor.cpu().view(torch.int16).numpy().view(_NP_BFLOAT16).copy()
    return tensor.numpy().copy() if tensor.device.type == "cpu" else tensor.cpu().numpy()


class JiasuBackendRep(BackendRep):
    """A model prepared for repeated runs: one :class:`Engine`, built once."""

    def __init__(self, engine: Engine):
        self.engine = engine
        graph = engine.model.graph
        self.input_names = [v.name for v in graph.inputs]
        self.output_names = [v.name for v in graph.outputs]

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        feeds = self._feeds(inputs)
        results = self.engine.run(feeds)
        outputs = [_to_numpy(results[name]) for name in self.output_names]
        return namedtupledict("Outputs", self.output_names)(*outputs)

    def _feeds(self, inputs: Any) -> dict[str, torch.Tensor]:
        device = self.engine.device
        if isinstance(inputs, Mapping):
            return {name: _to_torch(value, device) for name, value in inputs.items()}
        if isinstance(inputs, (np.ndarray, torch.Tensor)) or not isinstance(inputs, Sequence):
            inputs = [inputs]
        if len(inputs) > len(self.input_names):
            raise JiasuError(
                f"got {len(inputs)} inputs, but the model has {len(self.input_names)}: {', '.join(self.input_names)}"
            )
        # Positional inputs follow graph-input order; trailing ones may be omitted where they are initializers.
        return {name: _to_torch(value, device) for name, value in zip(self.input_names, inputs)}


class JiasuBackend(Backend):
    """``onnx.backend.base.Backend`` for jiasu's engine. Devices: CPU always, CUDA when torch sees a GPU."""

    @classmethod
    def is_compatible(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> bool:
        from ..kernels import KERNELS

        domains = {"ai.onnx": ""}
        return cls.supports_device(device) and all(
            (domains.get(n.domain, n.domain), n.op_type) in KERNELS for n in model.graph.node
        )

    @classmethod
    def prepare(cls, model: Any, device: str = "CPU", **kwargs: Any) -> JiasuBackendRep:
        """Build an engine for ``model`` (ModelProto, bytes, path or onnx-ir Model).

        ``check=False`` skips ``onnx.checker``; other keyword arguments are engine
        options (see :class:`EngineOptions`), e.g. ``conv_algorithm="im2col"``.
        """
        check = bool(kwargs.pop("check", True))
        # Other keywords (the ONNX test runner passes rtol/atol, for instance) are not ours: ignored.
        options = {k: v for k, v in kwargs.items() if k in EngineOptions.describe()}
        ir_model: ir.Model = load_onnx(model, check=check)
        engine = Engine(ir_model, EngineOptions(device=torch_device(device)), **options)
        return JiasuBackendRep(engine)

    @classmethod
    def run_model(cls, model: Any, inputs: Any, device: str = "CPU", **kwargs: Any) -> tuple[Any, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(
        cls,
        node: onnx.NodeProto,
        inputs: Any,
        device: str = "CPU",
        outputs_info: Optional[Sequence[tuple[np.dtype, tuple[int, ...]]]] = None,
        **kwargs: Any,
    ) -> tuple[Any, ...]:
        """Run one node. ``inputs``: a ``{name: array}`` dict, or positional values for the node's named inputs
        (one per ``node.input`` entry, or skipping the entries of omitted optional inputs, named "")."""
        super().run_node(node, inputs, device=device, outputs_info=outputs_info, **kwargs)
        opset = int(kwargs.pop("opset_version", onnx.defs.onnx_opset_version()))
        all_names = list(node.input)
        if isinstance(inputs, Mapping):
            pairs = [(name, inputs[name]) for name in all_names if name]
        elif len(inputs) == len(all_names):
            pairs = [(name, value) for name, value in zip(all_names, inputs) if name]
        else:
            pairs = list(zip([name for name in all_names if name], inputs))
        names = [name for name, _ in pairs]
        arrays = [v if isinstance(v, torch.Tensor) else np.asarray(v) for _, v in pairs]
        graph_inputs = [
            onnx.helper.make_tensor_value_info(name, onnx.helper.np_dtype_to_tensor_dtype(_np_dtype(a)), None)
            for name, a in zip(names, arrays)
        ]
        graph_outputs = [onnx.helper.make_empty_tensor_value_info(name) for name in node.output if name]
        graph = onnx.helper.make_graph([node], f"run_node_{node.op_type}", graph_inputs, graph_outputs)
        opsets = [onnx.helper.make_opsetid("", opset)] + ([onnx.helper.make_opsetid(node.domain, 1)] if node.domain else [])
        model = onnx.helper.make_model(graph, opset_imports=opsets)
        rep = cls.prepare(model, device, check=False, **kwargs)
        return rep.run(dict(zip(names, arrays)))

    @classmethod
    def supports_device(cls, device: str) -> bool:
        try:
            parsed = Device(device)
        except AttributeError:  # an unknown device type such as "TPU"
            return False
        if parsed.type == DeviceType.CPU:
            return True
        if parsed.type == DeviceType.CUDA:
            return torch.cuda.is_available() and parsed.device_id < torch.cuda.device_count()
        return False


def _np_dtype(value: Any) -> np.dtype:
    if isinstance(value, torch.Tensor):
        return _to_numpy(value[:0].reshape(-1)).dtype
    return value.dtype


prepare = JiasuBackend.prepare
run_model = JiasuBackend.run_model
run_node = JiasuBackend.run_node
supports_device = JiasuBackend.supports_device
is_compatible = JiasuBackend.is_compatible

__all__ = ["JiasuBackend", "JiasuBackendRep", "is_compatible", "prepare", "run_model", "run_node", "supports_device"]
