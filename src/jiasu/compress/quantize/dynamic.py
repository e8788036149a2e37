"""Dynamic INT8 for Gemm / MatMul: int8 weights stored, activations quantized per batch at run time.

Each Gemm or MatMul with a constant 2-D weight becomes ONNX Runtime's dynamic pattern, in standard ops::

    x -> DynamicQuantizeLinear -> (x_q uint8, x_scale, x_zero_point)
    MatMulInteger(x_q, W_q int8 [K, N], x_zero_point) -> int32 -> Cast(float)
      -> Mul(x_scale * w_scale[N]) [-> Add(bias)]

Weights are symmetric int8 per output column (zero point 0). No calibration data is needed; the
activation range is the batch's own, so it adapts to any input at the cost of one min/max pass per
call. Convolutions stay float (their activations are large; static INT8 is the mode for them).
"""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from ...errors import JiasuError
from ._graph import add_initializer, clean, const_array, fresh_name, names_in
from .qparams import qparams_from_range, resolve_reduce_range, weight_qtype


def _weight_kn(node: ir.Node):
    """The weight as [K, N] float32, or None when the node is not a plain x @ W (+ b)."""
    w = const_array(node.inputs[1]) if len(node.inputs) > 1 else None
    if w is None or w.ndim != 2 or w.dtype != np.float32:
        return None
    if node.op_type == "Gemm":
        a = node.attributes
        if (a.get("transA") and a["transA"].value) or any(k in a and float(a[k].value) != 1.0 for k in ("alpha", "beta")):
            return None
        return np.ascontiguousarray(w.T) if a.get("transB") and a["transB"].value else w
    return w


def quantize_dynamic(model: ir.Model, *, exclude=(), op_types=("Gemm", "MatMul"), reduce_range=None) -> tuple[ir.Model, list[str]]:
    """A copy of ``model`` with its Gemm/MatMul weights in int8 (see the module docstring); returns it and the nodes changed.

    ``reduce_range``: weights in 7 bits (-64..64), as static quantization (None: where this CPU's int8
    products would saturate otherwise, see ``diagnostics.int8_products_saturate``).
    """
    wq = weight_qtype("int8", resolve_reduce_range(reduce_range))
    model = clean(model)
    graph = model.graph
    taken = names_in(graph)
    done = []
    for node in list(graph):
        if node.domain != "" or node.op_type not in op_types or node.name in exclude:
            continue
        w = _weight_kn(node)
        if w is None:
            continue
        qp = qparams_from_range(w.min(0), w.max(0), wq, symmetric=True, axis=1)
        x = node.inputs[0]
        n = node.name or node.op_type
        w_q = add_initializer(graph, f"{n}_weight_int8", qp.quantize(w), taken)
        w_s = add_initializer(graph, f"{n}_weight_scale", qp.scale, taken)

        def val(suffix, dtype):
            return ir.Value(name=fresh_name(graph, f"{n}_{suffix}", taken), type=ir.TensorType(dtype))

        xq, xs, xz = val("x_quantized", ir.DataType.UINT8), val("x_scale", ir.DataType.FLOAT), val("x_zero_point", ir.DataType.UINT8)
        acc, accf, scale, y = val("acc_int32", ir.DataType.INT32), val("acc", ir.DataType.FLOAT), val("scale", ir.DataType.FLOAT), val("scaled", ir.DataType.FLOAT)
        new = [
            ir.Node("", "DynamicQuantizeLinear", [x], outputs=[xq, xs, xz], name=fresh_name(graph, f"{n}_DynamicQuantizeLinear", taken)),
            ir.Node("", "MatMulInteger", [xq, w_q, xz], outputs=[acc], name=fresh_name(graph, f"{n}_MatMulInteger", taken)),
            ir.Node("", "Cast", [acc], [ir.AttrInt64("to", int(ir.DataType.FLOAT))], outputs=[accf], name=fresh_name(graph, f"{n}_Cast", taken)),
            ir.Node("", "Mul", [xs, w_s], outputs=[scale], name=fresh_name(graph, f"{n}_scale_Mul", taken)),
            ir.Node("", "Mul", [accf, scale], outputs=[y], name=fresh_name(graph, f"{n}_Mul", taken)),
        ]
        out = y
        if len(node.inputs) > 2 and node.inputs[2] is not None:
            out = val("biased", ir.DataType.FLOAT)
            new.append(ir.Node("", "Add", [y, node.inputs[2]], outputs=[out], name=fresh_name(graph, f"{n}_bias_Add", taken)))
        graph.insert_before(node, new)
        old = node.outputs[0]
        out.shape = old.shape
        if old.is_graph_output():
            idx = [i for i, v in enumerate(graph.outputs) if v is old][0]
            name = old.name
            old.name = fresh_name(graph, f"{name}_float", taken)
            out.name = name
            graph.outputs[idx] = out
        old.replace_all_uses_with(out)
        graph.remove(node, safe=True)
        done.append(node.name)
    if not done:
        raise JiasuError(f"nothing to quantize dynamically: the model has no {'/'.join(op_types)} node with a constant 2-D float weight")
    from onnx_ir.passes.common import RemoveUnusedNodesPass

    RemoveUnusedNodesPass()(model)
    return model, done
