"""Post-training static INT8: calibrate activation ranges, then write a standard QDQ ONNX model.

The result is plain ONNX (QuantizeLinear / DequantizeLinear around Conv, Gemm, MatMul and Add) that
ONNX Runtime and OpenVINO run as it is, and that jiasu's engine runs with real int8 kernels after
:mod:`.lower` rewrites each DQ -> op -> Q group into one int8 kernel.

Types (the defaults; ``activation_type`` / ``weight_type`` change them):

- activations **uint8**, asymmetric (zero point from the calibrated range): x86's int8 dot-product
  instructions (AVX-512 VNNI ``vpdpbusd``, AVX2 ``vpmaddubsw``) multiply *unsigned* by *signed* bytes,
  so u8 activations feed them directly. With int8 activations ORT's QDQ path must shift every input
  by 128 (or falls back to slower s8s8 kernels); measured on this machine in benchmarks/RESULTS.md.
  uint8 is also what torch's fbgemm/oneDNN quantized conv and linear take.
- weights **int8**, symmetric (zero point 0, range -127..127), **per output channel**: channels
  with small weights keep their resolution, and a zero weight zero point removes the cross term
  from the int32 accumulation (the kernels need no per-row sums of the activations).
- biases **int32** with scale ``x_scale * w_scale`` (so they add straight into the accumulator).

Activation ranges come from an observer (``method``: minmax, percentile, entropy, mse; see
:mod:`.observers`); weight ranges are always the exact per-channel min/max.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

import numpy as np
import onnx_ir as ir
from onnx_ir.passes.common import RemoveUnusedNodesPass

from ...errors import JiasuError
from ...frontends import copy_model
from ._graph import add_initializer, clean, const_array, float_type, fresh_name, insert_after_producer, names_in, require_opset
from .data import calibration_feeds
from .observers import OBSERVERS, make_observer
from .qparams import QParams, qparams_from_range, resolve_reduce_range, weight_qtype

#: Ops the quantizer wraps in Q/DQ (their math runs in int8 on the targets).
QUANT_OPS = ("Conv", "Gemm", "MatMul", "Add")
#: Ops that move or select values without arithmetic: their output reuses the input's parameters,
#: so DQ -> op -> Q is exact on the quantized values and a backend may run them on uint8 directly.
PASSTHROUGH = ("MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose")
#: Fused into the preceding op's output quantization (ReLU is a clamp at the zero point).
ACTIVATIONS = ("Relu",)


@dataclass
class Plan:
    """What gets quantized: activation tensors (by name), and per node which inputs are weights/biases."""

    activations: list[str] = field(default_factory=list)
    #: passthrough output name -> the input name whose parameters it shares
    shared: dict[str, str] = field(default_factory=dict)
    weights: list[tuple[ir.Node, int, int]] = field(default_factory=list)  # (node, input index, channel axis)
    biases: list[tuple[ir.Node, int, int, int]] = field(default_factory=list)  # (node, bias index, x index, weight index)
    nodes: list[str] = field(default_factory=list)


def _activation_inputs(node: ir.Node) -> Optional[list[int]]:
    """Indices of ``node``'s inputs that are activations to quantize, or None if the node is not quantizable."""
    ins = node.inputs
    if any(v is not None and not float_type(v) for v in ins[:2]):
        return None
    if node.op_type == "Conv":
        return [0] if const_array(ins[1]) is not None else None
    if node.op_type == "Gemm":
        a = node.attributes
        if a.get("transA") and a["transA"].value or any(k in a and float(a[k].value) != 1.0 for k in ("alpha", "beta")):
            return None
        return [0] if const_array(ins[1]) is not None else None
    if node.op_type == "MatMul":
        return [0] if const_array(ins[1]) is not None and const_array(ins[1]).ndim == 2 else None
    if node.op_type == "Add":
        return [0, 1] if const_array(ins[0]) is None and const_array(ins[1]) is None else None
    return None


def _fused_output(node: ir.Node) -> ir.Value:
    """The op's output, or its sole-consumer Relu's (quantizing after the ReLU keeps the range positive)."""
    out = node.outputs[0]
    uses = list(out.uses())
    if len(uses) == 1 and not out.is_graph_output() and uses[0].node.op_type in ACTIVATIONS and uses[0].node.domain == "":
        return uses[0].node.outputs[0]
    return out


def plan(model: ir.Model, exclude: Iterable[str] = (), op_types: Iterable[str] = QUANT_OPS) -> Plan:
    """Decide what to quantize in ``model`` (a cleaned copy; see :func:`quantize_static`)."""
    graph = model.graph
    exclude, op_types = set(exclude), set(op_types)
    unknown = exclude - {n.name for n in graph}
    if unknown:
        raise JiasuError(f"cannot keep {', '.join(sorted(unknown))} in float: no such node; node names are shown by `jiasu info MODEL --json`")
    p = Plan()
    acts: dict[str, None] = {}
    quantized: set[str] = set()
    for node in graph:
        if node.domain != "" or node.op_type not in op_types or node.name in exclude:
            continue
        idx = _activation_inputs(node)
        if idx is None:
            continue
        p.nodes.append(node.name)
        quantized.add(node.name)
        for i in idx:
            acts.setdefault(node.inputs[i].name)
        if node.op_type in ("Conv", "Gemm", "MatMul"):
            w = const_array(node.inputs[1])
            axis = 0 if node.op_type == "Conv" or (node.op_type == "Gemm" and node.attributes.get("transB") and node.attributes["transB"].value) else 1
            p.weights.append((node, 1, axis))
            if len(node.inputs) > 2 and node.inputs[2] is not None and const_array(node.inputs[2]) is not None:
                b = const_array(node.inputs[2])
                if b.ndim == 1 and b.shape[0] == w.shape[axis]:
                    p.biases.append((node, 2, 0, 1))
    # outputs: quantize where every reader is quantized (or moves values only), so no Q/DQ pair is wasted
    for node in graph:
        if node.name not in quantized:
            continue
        out = _fused_output(node)
        if out.is_graph_output():
            continue
        readers = [u.node for u in out.uses()]
        if readers and all(r.domain == "" and (r.name in quantized or r.op_type in PASSTHROUGH) for r in readers):
            acts.setdefault(out.name)
    # passthrough ops between quantized tensors share their input's parameters
    for node in graph:
        if node.domain == "" and node.op_type in PASSTHROUGH and node.outputs[0].name in acts and node.inputs[0].name in acts:
            p.shared[node.outputs[0].name] = node.inputs[0].name
    p.activations = list(acts)
    return p


def collect(model: ir.Model, names: list[str], feeds: list[dict[str, Any]], make) -> dict[str, Any]:
    """Run ``model`` on every feed with ``names`` exposed as outputs; one observer (``make()``) per name."""
    from ...runtime.engine import Engine

    augmented = copy_model(model)
    values = {v.name: v for n in augmented.graph for v in n.outputs}
    values.update({v.name: v for v in augmented.graph.inputs})
    present = {v.name for v in augmented.graph.outputs}
    for name in names:
        if name not in present:
            augmented.graph.outputs.append(values[name])
    engine = Engine(augmented)
    observers = {name: make() for name in names}
    for feed in feeds:
        out = engine.run(feed)
        for name, obs in observers.items():
            obs.observe(out[name])
    return observers


def _qdq_pair(graph: ir.Graph, value: ir.Value, qp: QParams, taken: set[str]) -> None:
    """Insert value -> QuantizeLinear -> DequantizeLinear and make every reader read the DQ output."""
    scale = add_initializer(graph, f"{value.name}_scale", qp.scale.reshape(()), taken)
    zp = add_initializer(graph, f"{value.name}_zero_point", qp.zero_point.reshape(()), taken)
    q_out = ir.Value(name=fresh_name(graph, f"{value.name}_quantized", taken), type=ir.TensorType(ir.DataType.from_numpy(np.dtype(qp.qtype.dtype))), shape=value.shape)
    dq_out = ir.Value(name=fresh_name(graph, f"{value.name}_dequantized", taken), type=ir.TensorType(ir.DataType.FLOAT), shape=value.shape)
    value.replace_all_uses_with(dq_out)
    q = ir.Node("", "QuantizeLinear", [value, scale, zp], outputs=[q_out], name=fresh_name(graph, f"{value.name}_QuantizeLinear", taken))
    dq = ir.Node("", "DequantizeLinear", [q_out, scale, zp], outputs=[dq_out], name=fresh_name(graph, f"{value.name}_DequantizeLinear", taken))
    insert_after_producer(graph, value, [q, dq])


def _dq_constant(graph: ir.Graph, node: ir.Node, index: int, q: np.ndarray, scale: np.ndarray, zp: np.ndarray, axis: Optional[int], taken: set[str]) -> None:
    base = node.inputs[index].name
    qv = add_initializer(graph, f"{base}_quantized", q, taken)
    sv = add_initializer(graph, f"{base}_scale", scale.astype(np.float32), taken)
    zv = add_initializer(graph, f"{base}_zero_point", zp, taken)
    out = ir.Value(name=fresh_name(graph, f"{base}_dequantized_{node.name}", taken), type=ir.TensorType(ir.DataType.FLOAT), shape=ir.Shape(q.shape))
    attrs = [ir.AttrInt64("axis", axis)] if axis is not None and scale.ndim else []
    dq = ir.Node("", "DequantizeLinear", [qv, sv, zv], attrs, outputs=[out], name=fresh_name(graph, f"{base}_DequantizeLinear_{node.name}", taken))
    graph.insert_before(node, [dq])
    node.replace_input_with(index, out)


def write_qdq(
    model: ir.Model, p: Plan, act_params: dict[str, QParams], *, weight_type: str = "int8", per_channel: bool = True, reduce_range: bool = False
) -> ir.Model:
    """Rewrite ``model`` in place into QDQ form following ``p`` with activation parameters ``act_params``
    (weights in 7 bits when ``reduce_range``)."""
    wq = weight_qtype(weight_type, reduce_range)
    graph = model.graph
    taken = names_in(graph)
    values = {v.name: v for n in graph for v in n.outputs}
    values.update({v.name: v for v in graph.inputs})
    # weights first: bias scales need the weight scales, and node inputs must still be the float initializers
    w_scales: dict[tuple[str, int], np.ndarray] = {}
    for node, index, axis in p.weights:
        w = const_array(node.inputs[index]).astype(np.float32)
        if per_channel:
            rows = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
            qp = qparams_from_range(rows.min(1), rows.max(1), wq, symmetric=True, axis=axis)
        else:
            qp = qparams_from_range(w.min(), w.max(), wq, symmetric=True)
        w_scales[(node.name, index)] = qp.scale
        bias = next(((b, xi) for n, b, xi, wi in p.biases if n is node), None)
        if bias is not None:
            b_index, x_index = bias
            x_name = node.inputs[x_index].name
            if x_name in act_params:
                b = const_array(node.inputs[b_index]).astype(np.float64)
                b_scale = (np.float64(act_params[x_name].scale) * qp.scale.astype(np.float64)).astype(np.float32)
                b_scale = np.broadcast_to(b_scale, b.shape).copy() if b_scale.ndim else b_scale
                b_q = np.clip(np.rint(b / b_scale), -(2**31), 2**31 - 1).astype(np.int32)
                _dq_constant(graph, node, b_index, b_q, b_scale, np.zeros(b_scale.shape, np.int32), 0, taken)
        _dq_constant(graph, node, index, qp.quantize(w), qp.scale, qp.zero_point, axis, taken)
    for name in p.activations:
        _qdq_pair(graph, values[name], act_params[name], taken)
    RemoveUnusedNodesPass()(model)  # the float weights the DQ nodes replaced
    return model


@dataclass
class StaticResult:
    """A QDQ model and what went into it."""

    model: ir.Model
    plan: Plan
    params: dict[str, QParams]
    method: str
    #: whether the weights were stored in 7 bits (see ``quantize_static``)
    reduce_range: bool = False


def quantize_static(
    model: ir.Model,
    data: Any,
    *,
    method: str = "minmax",
    per_channel: bool = True,
    activation_type: str = "uint8",
    weight_type: str = "int8",
    symmetric_activations: bool = False,
    exclude: Iterable[str] = (),
    op_types: Iterable[str] = QUANT_OPS,
    batch_size: int = 32,
    limit: Optional[int] = 512,
    observer_options: Optional[dict] = None,
    params: Optional[dict[str, QParams]] = None,
    reduce_range: Optional[bool] = None,
) -> StaticResult:
    """Post-training static INT8 QDQ model of ``model`` (not modified), calibrated on ``data``.

    ``data``: anything :func:`.data.calibration_feeds` takes. ``exclude``: node names kept in float
    (mixed precision, see :mod:`.sensitivity`). ``params``: activation parameters from an earlier call
    (its ``.params``) to skip calibration. ``reduce_range``: weights in 7 bits (-64..64), which x86 CPUs
    without VNNI need for exact int8 products in ONNX Runtime and torch (``diagnostics.int8_products_saturate``);
    None: on where this CPU is one of them. Returns the QDQ model, the plan and the parameters.
    """
    if method not in OBSERVERS:
        raise JiasuError(f"unknown calibration method {method!r}; choose one of: {', '.join(OBSERVERS)}")
    require_opset(model, 13, "per-channel QuantizeLinear/DequantizeLinear")
    work = clean(model)
    p = plan(work, exclude, op_types)
    if not p.nodes:
        raise JiasuError(f"nothing to quantize: the model has no {'/'.join(op_types)} node with constant weights outside the excluded set")
    own = [n for n in p.activations if n not in p.shared]
    if params is None or any(n not in params for n in own):
        feeds = calibration_feeds(work, data, batch_size=batch_size, limit=limit)
        opts = observer_options or {}
        observers = collect(work, own, feeds, lambda: make_observer(method, qtype=activation_type, symmetric=symmetric_activations, **opts))
        params = {name: obs.compute() for name, obs in observers.items()}
    params = dict(params)
    for out, src in p.shared.items():
        while src in p.shared:
            src = p.shared[src]
        params[out] = params[src]
    reduce_range = resolve_reduce_range(reduce_range)
    write_qdq(work, p, params, weight_type=weight_type, per_channel=per_channel, reduce_range=reduce_range)
    return StaticResult(work, p, params, method, reduce_range)
