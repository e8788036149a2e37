"""Binary and ternary weights: training with the straight-through estimator, bit-packed storage, and
jiasu kernels that read the packed form.

Weights per output channel c:

- **binary**: ``w = alpha_c * sign(v)``, ``alpha_c = mean |v|`` over the channel (XNOR-Net's scale);
- **ternary**: ``w = alpha_c * t``, ``t in {-1, 0, +1}``: ``t = 0`` where ``|v| <= 0.7 * mean |v|``
  (Ternary Weight Networks' threshold), ``alpha_c`` = mean |v| over the kept weights.

Training (:func:`prepare_lowbit`): Conv2d/Linear layers use the low-bit weight in the forward pass;
the backward pass treats the quantizer as the identity for ``|v| <= 1`` and as 0 beyond (clipped
straight-through estimator) so the latent float weights ``v`` keep learning. The first and last
layers are usually kept in float (``skip``) as in the literature.

Storage (:func:`pack_lowbit`): the ONNX model keeps those layers as ``jiasu::LowBitConv`` /
``jiasu::LowBitGemm`` nodes with the weight packed 8 per byte (binary: 1 = +1, 0 = -1) or 4 per
byte (ternary, 2-bit codes 0 -> 0, 1 -> +1, 2 -> -1) plus one float scale per channel: 1/32 or 1/16
of float32. Only jiasu's engine runs these nodes (they are not standard ONNX).

Kernels (``kernels/ops/low_bit_gemm.py``, ``low_bit_conv.py``): LowBitGemm unpacks once at build time
to int8 {-1, 0, +1} and multiplies dynamically quantized uint8 activations with torch's int8 GEMM
(``torch._int_mm``): with these weights every product is an add, a subtract or nothing, and the sum is
exact in int32. LowBitConv unpacks to float and runs a float convolution by default: it saves
storage, not time; its add/sub-only kernel (no multiplication per weight) exists and is measured, but
ran 4.6-166x slower than the float convolution here. Neither beats the INT8 path; benchmarks/RESULTS.md
has the numbers.
"""

from __future__ import annotations

import copy
from typing import Iterable

import numpy as np
import onnx_ir as ir
import torch
from torch import nn

from ...errors import JiasuError
from ._graph import add_initializer, clean, const_array, names_in

KINDS = ("binary", "ternary")


class _LowBit(torch.autograd.Function):
    @staticmethod
    def forward(ctx, v, kind):
        ctx.save_for_backward(v)
        return lowbit_weight(v.detach(), kind)

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        return grad * (v.abs() <= 1).to(grad.dtype), None


def lowbit_weight(v: torch.Tensor, kind: str) -> torch.Tensor:
    """The low-bit weight (alpha_c * {-1, (0,) +1}) of latent weights ``v``, per output channel (dim 0)."""
    flat = v.reshape(v.shape[0], -1)
    if kind == "binary":
        alpha = flat.abs().mean(1, keepdim=True)
        q = torch.where(flat >= 0, 1.0, -1.0)
    elif kind == "ternary":
        delta = 0.7 * flat.abs().mean(1, keepdim=True)
        keep = flat.abs() > delta
        q = torch.sign(flat) * keep
        alpha = (flat.abs() * keep).sum(1, keepdim=True) / keep.sum(1, keepdim=True).clamp(min=1)
    else:
        raise JiasuError(f"unknown low-bit kind {kind!r}; choose one of: {', '.join(KINDS)}")
    return (alpha * q).reshape(v.shape)


class LowBitConv2d(nn.Conv2d):
    def forward(self, x):
        return self._conv_forward(x, _LowBit.apply(self.weight, self.lowbit), self.bias)


class LowBitLinear(nn.Linear):
    def forward(self, x):
        return nn.functional.linear(x, _LowBit.apply(self.weight, self.lowbit), self.bias)


_SWAP = {nn.Conv2d: LowBitConv2d, nn.Linear: LowBitLinear}


def prepare_lowbit(model: nn.Module, kind: str = "ternary", skip: Iterable[str] = ()) -> nn.Module:
    """A copy of ``model`` whose Conv2d/Linear layers (except the names in ``skip``) train with low-bit weights."""
    if kind not in KINDS:
        raise JiasuError(f"unknown low-bit kind {kind!r}; choose one of: {', '.join(KINDS)}")
    model = copy.deepcopy(model)
    skip = set(skip)
    for name, module in model.named_modules():
        if type(module) in _SWAP and name not in skip:
            module.__class__ = _SWAP[type(module)]
            module.lowbit = kind
    return model


def freeze_lowbit(model: nn.Module) -> nn.Module:
    """A plain copy whose low-bit layers hold their effective weights (alpha * code): what gets exported."""
    model = copy.deepcopy(model)
    back = {v: k for k, v in _SWAP.items()}
    for module in model.modules():
        if type(module) in back:
            with torch.no_grad():
                module.weight.copy_(lowbit_weight(module.weight, module.lowbit))
            module.__class__ = back[type(module)]
            del module.lowbit
    return model


# ---- packing ----------------------------------------------------------------------------------------


def _codes(w: np.ndarray) -> tuple[str, np.ndarray, np.ndarray] | None:
    """(kind, codes in {-1, 0, 1} as [C, K] int8, alpha [C]) if every channel of ``w`` is alpha_c * {-1, (0,) 1}."""
    flat = w.reshape(w.shape[0], -1).astype(np.float32)
    alpha = np.abs(flat).max(1)
    if np.any(alpha == 0):
        return None
    q = flat / alpha[:, None]
    codes = np.rint(q).astype(np.int8)
    if not np.allclose(q, codes, atol=1e-5):
        return None
    kind = "ternary" if np.any(codes == 0) else "binary"
    return kind, codes, alpha.astype(np.float32)


def pack_codes(codes: np.ndarray, kind: str) -> np.ndarray:
    """[C, K] codes -> [C, ceil(K*bits/8)] uint8 (binary: 1 bit, +1 -> 1; ternary: 2 bits, 0/+1/-1 -> 0/1/2)."""
    if kind == "binary":
        return np.packbits(codes > 0, axis=1)
    two = np.where(codes > 0, 1, np.where(codes < 0, 2, 0)).astype(np.uint8)
    pad = (-two.shape[1]) % 4
    two = np.pad(two, ((0, 0), (0, pad)))
    two = two.reshape(two.shape[0], -1, 4)
    return (two[..., 0] | (two[..., 1] << 2) | (two[..., 2] << 4) | (two[..., 3] << 6)).astype(np.uint8)


def unpack_codes(packed: torch.Tensor, kind: str, k: int) -> torch.Tensor:
    """Inverse of :func:`pack_codes`: [C, K] int8 codes in {-1, 0, 1}."""
    if kind == "binary":
        bits = (packed.unsqueeze(-1) >> torch.arange(7, -1, -1, dtype=torch.uint8)) & 1
        return (bits.reshape(packed.shape[0], -1)[:, :k].to(torch.int8) * 2 - 1).to(torch.int8)
    two = (packed.unsqueeze(-1) >> torch.tensor([0, 2, 4, 6], dtype=torch.uint8)) & 3
    two = two.reshape(packed.shape[0], -1)[:, :k].to(torch.int8)
    return torch.where(two == 2, torch.tensor(-1, dtype=torch.int8), two)


def pack_lowbit(model: ir.Model) -> tuple[ir.Model, list[str]]:
    """A copy of ``model`` whose Conv/Gemm weights that are alpha_c * {-1, (0,) 1} become bit-packed jiasu nodes."""
    model = clean(model)
    graph = model.graph
    taken = names_in(graph)
    done = []
    for node in list(graph):
        if node.domain != "" or node.op_type not in ("Conv", "Gemm") or len(node.inputs) < 2:
            continue
        w = const_array(node.inputs[1])
        if w is None or w.ndim < 2:
            continue
        if node.op_type == "Gemm":
            a = node.attributes
            if not (a.get("transB") and a["transB"].value) or (a.get("transA") and a["transA"].value):
                continue
            if any(k in a and float(a[k].value) != 1.0 for k in ("alpha", "beta")):
                continue
        found = _codes(w)
        if found is None:
            continue
        kind, codes, alpha = found
        packed = add_initializer(graph, f"{node.inputs[1].name}_{kind}_packed", pack_codes(codes, kind), taken)
        scale = add_initializer(graph, f"{node.inputs[1].name}_scale", alpha, taken)
        attrs = [ir.Attr(a.name, a.type, a.value) for a in node.attributes.values() if a.name not in ("transB", "alpha", "beta")]
        attrs += [ir.AttrString("kind", kind), ir.AttrInt64s("weight_shape", list(w.shape))]
        bias = node.inputs[2] if len(node.inputs) > 2 else None
        op = "LowBitConv" if node.op_type == "Conv" else "LowBitGemm"
        new = ir.Node("jiasu", op, [node.inputs[0], packed, scale, bias], attrs, name=node.name + f"_{kind}", num_outputs=1)
        old = node.outputs[0]
        new.outputs[0].shape, new.outputs[0].type = old.shape, old.type
        graph.insert_before(node, [new])
        if old.is_graph_output():
            idx = [i for i, v in enumerate(graph.outputs) if v is old][0]
            name = old.name
            old.name = name + "_float"
            new.outputs[0].name = name
            graph.outputs[idx] = new.outputs[0]
        else:
            new.outputs[0].name = old.name + f"_{kind}"
        old.replace_all_uses_with(new.outputs[0])
        graph.remove(node, safe=True)
        done.append(node.name)
    from onnx_ir.passes.common import RemoveUnusedNodesPass

    RemoveUnusedNodesPass()(model)
    if done:
        model.opset_imports.setdefault("jiasu", 1)  # a saved file must declare the domain of its LowBit* nodes to load
    return model, done
