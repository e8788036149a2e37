"""Lower a QDQ model to jiasu's int8 kernels: the pass that makes INT8 fast on our engine.

A QDQ model says "this Conv sees int8 data" with DequantizeLinear in front of it and QuantizeLinear
behind it, and computes in float. This pass rewrites each such group into one int8 kernel, so data
stays uint8 between them and the arithmetic runs on torch's int8 GEMM/conv (fbgemm / oneDNN, VNNI):

1. ``Q(Conv(DQ(x), DQ(w), DQ(b)) [-> Relu])`` becomes ``jiasu::QConv(x, ..., relu)``: x uint8 per tensor,
   w constant int8 with zero point 0 (per tensor or per output channel), b int32 (or float, quantized
   here with scale x_scale * w_scale), the output quantization per tensor uint8.
2. ``Q(Gemm/MatMul(DQ(x), DQ(w), DQ(b)) [-> Relu])`` becomes ``jiasu::QGemm`` (weight stored [N, K]).
3. ``Q(Add(DQ(a), DQ(b)) [-> Relu])`` becomes ``jiasu::QAdd``.
4. ``Q(MaxPool/Flatten/Reshape/...(DQ(x)))`` with the same scale and zero point on both sides becomes
   the op on the uint8 values (it only moves values, so this is exact); MaxPool as ``jiasu::QMaxPool``.
5. A DequantizeLinear of constants that nothing lowered reads (weights of a node kept in float) is
   folded into a float initializer, so it is not recomputed on every run.

Not done: fusing the residual Add into the conv. torch 2.13's oneDNN ``quantized::conv2d_add`` was
tried and rejected: on a unit check it was up to 59 quantization steps away from conv + add.

A group that does not match exactly (per-tensor activations, int8 zero point 0 weights, a sole
consumer at each step) is left as it is: the engine still runs it, in float. The model's outputs
agree with the QDQ model's to within one quantization step per element (requantization rounding).
"""

from __future__ import annotations

from typing import Optional

import numpy as np
import onnx_ir as ir
from onnx_ir.passes.common import RemoveUnusedNodesPass

from .base import JiasuPass
from ..compress.quantize._graph import add_initializer, const_array, names_in
from ..frontends import copy_model

_MOVERS = ("MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose")


def _dq(value: Optional[ir.Value]) -> Optional[ir.Node]:
    node = value.producer() if value is not None else None
    return node if node is not None and node.op_type == "DequantizeLinear" and node.domain == "" else None


def _per_tensor_u8(dq: Optional[ir.Node]) -> bool:
    """A DQ of a uint8 activation with constant per-tensor scale and zero point."""
    if dq is None or len(dq.inputs) < 3:
        return False
    s, z = const_array(dq.inputs[1]), const_array(dq.inputs[2])
    return s is not None and z is not None and s.size == 1 and z.size == 1 and z.dtype == np.uint8


def _const_int8_weight(dq: Optional[ir.Node]) -> bool:
    if dq is None or len(dq.inputs) < 2:
        return False
    w, s = const_array(dq.inputs[0]), const_array(dq.inputs[1])
    z = const_array(dq.inputs[2]) if len(dq.inputs) > 2 and dq.inputs[2] is not None else np.zeros((), np.int8)
    return w is not None and s is not None and z is not None and w.dtype == np.int8 and not z.any()


def _sole(value: ir.Value) -> Optional[ir.Node]:
    if value.is_graph_output():
        return None
    uses = list(value.uses())
    return uses[0].node if len(uses) == 1 else None


def _tail(node: ir.Node) -> Optional[tuple[bool, list[ir.Node], ir.Node]]:
    """(relu, [relu node], Q node) when ``node``'s output runs through an optional Relu into one per-tensor uint8 Q."""
    nxt = _sole(node.outputs[0])
    relu = nxt is not None and nxt.op_type == "Relu" and nxt.domain == ""
    extra = [nxt] if relu else []
    q = _sole(nxt.outputs[0]) if relu else nxt
    if q is None or q.op_type != "QuantizeLinear" or q.domain != "" or len(q.inputs) < 3:
        return None
    s, z = const_array(q.inputs[1]), const_array(q.inputs[2])
    if s is None or z is None or s.size != 1 or z.size != 1 or z.dtype != np.uint8 or q.outputs[0].is_graph_output():
        return None
    return relu, extra, q


class LowerInt8(JiasuPass):
    """See the module docstring for the rewrite rules."""

    name = "lower_int8"

    def rewrite(self, model: ir.Model) -> None:
        graph = model.graph
        self._taken = names_in(graph)
        for node in list(graph):
            if node.graph is None or node.domain != "":
                continue
            if node.op_type == "Conv":
                self._conv(graph, node)
            elif node.op_type in ("Gemm", "MatMul"):
                self._gemm(graph, node)
            elif node.op_type == "Add":
                self._add(graph, node)
        for node in list(graph):
            if node.graph is not None and node.domain == "" and node.op_type in _MOVERS:
                self._mover(graph, node)
        RemoveUnusedNodesPass()(model)
        RemoveUnusedNodesPass()(model)
        self._fold_constant_dq(graph)
        RemoveUnusedNodesPass()(model)

    # ---- helpers -----------------------------------------------------------------------
    def _replace(self, graph: ir.Graph, old: list[ir.Node], new: ir.Node, q: ir.Node) -> None:
        """Put ``new`` where ``old`` was; its output takes over the Q node's readers."""
        out = new.outputs[0]
        out.shape, out.type = q.outputs[0].shape, q.outputs[0].type
        q.outputs[0].replace_all_uses_with(out)
        graph.insert_before(old[0], [new])
        for n in reversed(old):
            graph.remove(n, safe=True)
        out.name = q.outputs[0].name + "_int8"

    def _bias_int32(self, graph, b: Optional[ir.Value], x_scale: float, w_scale: np.ndarray) -> Optional[ir.Value]:
        """The bias as int32 at scale x_scale * w_scale: the DQ'd int32 initializer when it already is, else requantized."""
        if b is None:
            return None
        dq = _dq(b)
        if dq is not None:
            bq, bs = const_array(dq.inputs[0]), const_array(dq.inputs[1])
            if bq is not None and bq.dtype == np.int32 and bs is not None and np.allclose(bs, x_scale * w_scale, rtol=1e-5, atol=0):
                return dq.inputs[0]
            real = None if bq is None or bs is None else (bq.astype(np.float64) * bs)
        else:
            real = const_array(b)
        if real is None:
            return ir.Value(name="__none__")  # marks "cannot lower"
        scale = np.broadcast_to(np.float64(x_scale) * w_scale.astype(np.float64), real.shape)
        return add_initializer(graph, f"{b.name}_int32", np.rint(real / scale).astype(np.int32), self._taken)

    def _conv(self, graph, node):
        dx, dw = _dq(node.inputs[0]), _dq(node.inputs[1])
        tail = _tail(node)
        if tail is None or not _per_tensor_u8(dx) or not _const_int8_weight(dw) or const_array(node.inputs[1]) is not None:
            return
        relu, extra, q = tail
        w_scale = const_array(dw.inputs[1]).reshape(-1)
        b = node.inputs[2] if len(node.inputs) > 2 else None
        bq = self._bias_int32(graph, b, float(const_array(dx.inputs[1])), w_scale)
        if bq is not None and bq.name == "__none__":
            return
        wz = dw.inputs[2] if len(dw.inputs) > 2 and dw.inputs[2] is not None else add_initializer(graph, "w_zero_point", np.zeros((), np.int8), self._taken)
        attrs = [ir.Attr(a.name, a.type, a.value) for a in node.attributes.values()] + [ir.AttrInt64("relu", int(relu))]
        ins = [dx.inputs[0], dx.inputs[1], dx.inputs[2], dw.inputs[0], dw.inputs[1], wz, q.inputs[1], q.inputs[2]] + ([bq] if bq is not None else [])
        new = ir.Node("jiasu", "QConv", ins, attrs, name=node.name + "_int8", num_outputs=1)
        self._replace(graph, [node, *extra, q], new, q)
        self.count("lowered {} Conv to int8")

    def _gemm(self, graph, node):
        dx, dw = _dq(node.inputs[0]), _dq(node.inputs[1])
        tail = _tail(node)
        if tail is None or not _per_tensor_u8(dx) or not _const_int8_weight(dw):
            return
        a = node.attributes
        if node.op_type == "Gemm" and (
            (a.get("transA") and a["transA"].value) or any(k in a and float(a[k].value) != 1.0 for k in ("alpha", "beta"))
        ):
            return
        trans_b = node.op_type == "Gemm" and bool(a.get("transB") and a["transB"].value)
        w = const_array(dw.inputs[0])
        if w.ndim != 2:
            return
        w_scale = const_array(dw.inputs[1]).reshape(-1)
        axis = int(dw.attributes["axis"].value) if "axis" in dw.attributes else 1
        if w_scale.size > 1 and axis != (0 if trans_b else 1):
            return  # per-row scales along K cannot be factored out of the dot product
        w_nk = dw.inputs[0] if trans_b else add_initializer(graph, f"{dw.inputs[0].name}_nk", np.ascontiguousarray(w.T), self._taken)
        b = node.inputs[2] if len(node.inputs) > 2 else None
        bq = self._bias_int32(graph, b, float(const_array(dx.inputs[1])), w_scale)
        if bq is not None and bq.name == "__none__":
            return
        relu, extra, q = tail
        wz = add_initializer(graph, "w_zero_point", np.zeros((), np.int8), self._taken)
        ins = [dx.inputs[0], dx.inputs[1], dx.inputs[2], w_nk, dw.inputs[1], wz, bq, q.inputs[1], q.inputs[2]]
        new = ir.Node("jiasu", "QGemm", ins, [ir.AttrInt64("relu", int(relu))], name=node.name + "_int8", num_outputs=1)
        self._replace(graph, [node, *extra, q], new, q)
        self.count(f"lowered {{}} {node.op_type} to int8")

    def _add(self, graph, node):
        da, db = _dq(node.inputs[0]), _dq(node.inputs[1])
        tail = _tail(node)
        if tail is None or not _per_tensor_u8(da) or not _per_tensor_u8(db):
            return
        relu, extra, q = tail
        ins = [da.inputs[0], da.inputs[1], da.inputs[2], db.inputs[0], db.inputs[1], db.inputs[2], q.inputs[1], q.inputs[2]]
        new = ir.Node("jiasu", "QAdd", ins, [ir.AttrInt64("relu", int(relu))], name=node.name + "_int8", num_outputs=1)
        self._replace(graph, [node, *extra, q], new, q)
        self.count("lowered {} Add to int8")

    def _mover(self, graph, node):
        dx = _dq(node.inputs[0])
        q = _sole(node.outputs[0])
        if not _per_tensor_u8(dx) or q is None or q.op_type != "QuantizeLinear" or len(q.inputs) < 3 or q.outputs[0].is_graph_output():
            return
        same = all(
            (a := const_array(dx.inputs[i])) is not None and (b := const_array(q.inputs[i])) is not None and a.dtype == b.dtype and np.array_equal(a, b)
            for i in (1, 2)
        )
        if not same:
            return
        op, domain = ("QMaxPool", "jiasu") if node.op_type == "MaxPool" else (node.op_type, "")
        new = ir.Node(domain, op, [dx.inputs[0], *node.inputs[1:]], [ir.Attr(a.name, a.type, a.value) for a in node.attributes.values()], name=node.name + "_uint8", num_outputs=1)
        self._replace(graph, [node, q], new, q)
        self.count(f"ran {{}} {node.op_type} on uint8")

    def _fold_constant_dq(self, graph):
        for node in list(graph):
            if node.op_type != "DequantizeLinear" or node.domain != "":
                continue
            arrays = [const_array(v) if v is not None else None for v in node.inputs]
            if arrays[0] is None or arrays[1] is None or (len(arrays) > 2 and node.inputs[2] is not None and arrays[2] is None):
                continue
            q, s = arrays[0], arrays[1]
            z = arrays[2] if len(arrays) > 2 and arrays[2] is not None else np.zeros((), q.dtype)
            axis = int(node.attributes["axis"].value) if "axis" in node.attributes else 1
            if s.ndim == 1 and s.size > 1:
                shape = [1] * q.ndim
                shape[axis] = -1
                s, z = s.reshape(shape), z.reshape(shape)
            real = ((q.astype(np.int64) - z.astype(np.int64)).astype(np.float32) * s).astype(s.dtype)
            value = add_initializer(graph, node.outputs[0].name + "_folded", real, self._taken)
            node.outputs[0].replace_all_uses_with(value)
            graph.remove(node, safe=True)
            self.count("folded {} constant DequantizeLinear")


def lower_int8(model: ir.Model) -> ir.Model:
    """A copy of QDQ ``model`` with its int8 groups lowered to jiasu's int8 kernels (see the module docstring)."""
    model = copy_model(model)
    LowerInt8()(model)
    return model
