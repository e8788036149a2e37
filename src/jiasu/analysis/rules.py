"""Arithmetic of one node, per ONNX op type: the counting rules.

Every rule maps a node with concrete shapes to :class:`Ops`, four counts:

* ``macs``: multiply-accumulates of inner products (Conv, ConvTranspose, Gemm,
  MatMul and their integer forms), one product added into an accumulator.
  One MAC is two FLOPs. Nothing else is a MAC: the published tables count only
  convolution and fully-connected MACs, and so do we.
* ``adds``: additions, subtractions, comparisons (max, ReLU, pooling maxima),
  selects and other one-cycle ALU work.
* ``muls``: multiplications and divisions.
* ``special``: transcendental functions (exp, log, sqrt, erf, tanh, pow).

``flops = 2 * macs + adds + muls + special``. The rules:

====================================  =====================================================================
op                                    count
====================================  =====================================================================
Conv (ConvInteger, QLinearConv)       MACs = out elements * (C_in / groups) * kernel taps; + 1 add per
                                      output element for a bias. Stride, padding and dilation act through
                                      the output size: dilation spreads the taps, it does not add any.
ConvTranspose                         MACs = in elements * (C_out / groups) * kernel taps (each input pixel
                                      is scattered through the whole kernel); + 1 add per output for a bias
Gemm                                  MACs = M * N * K; + M*N adds for C; + M*N muls when alpha != 1, and
                                      when beta is neither 0 nor 1
MatMul (MatMulInteger, QLinearMatMul)  MACs = out elements * K (batched, broadcast)
MaxPool                               (kernel taps - 1) comparisons per output element
AveragePool                           (kernel taps - 1) adds + 1 mul (the division) per output element
GlobalAveragePool / GlobalMaxPool     (in - out) adds (+ 1 mul per output for the average)
Reduce{Sum,Max,Min,Mean,Prod,...}     (in - out) adds (muls for Prod, squares for SumSquare/L2, 1 mul per
                                      output for Mean, 1 sqrt per output for L2)
BatchNormalization                    1 mul + 1 add per element (inference: scale and shift precomputed),
                                      + per channel 2 adds, 2 muls and 1 sqrt to precompute them
Layer/Instance/GroupNormalization     per element 3 adds + 3 muls (mean, centre, square, sum, scale, shift);
                                      per normalised group 1 add, 3 muls and 1 sqrt
LRN                                   per element size muls + size adds (sum of squares), 1 pow, 2 muls
Softmax / LogSoftmax                  per element 1 max, 1 subtract, 1 exp, 1 add to the sum, then 1 divide
                                      (Softmax) or 1 subtract (LogSoftmax, + 1 log per element)
elementwise ops                       per output element, as listed in ``RULES`` (Add: 1 add, Sigmoid:
                                      1 exp + 1 add + 1 divide, HardSwish: 3 adds + 2 muls, ...)
Resize / Upsample                     nearest: 0; linear: 2^d muls + (2^d - 1) adds per output element;
                                      cubic: 4^d and 4^d - 1, with d the number of resized axes
data movement                         0 (Reshape, Transpose, Concat, Slice, Gather, Pad, Cast, ...)
jiasu::FusedConv / jiasu::FusedGemm   the Conv / Gemm it replaced, + 1 add per output element for a
                                      residual Z, + its ``activation`` as that op's rule counts it (Swish:
                                      Sigmoid + Mul). The graph passes write them (``jiasu profile --plan``)
jiasu::InvertedResidual               its expand, depthwise and project Convs as above, + 1 add per element
                                      for each finite clamp bound and for the residual Z
jiasu::QConv / jiasu::QGemm           as QLinearConv / a Gemm on the int8 weight (input 3: ``(N, K)`` for
                                      QGemm), + 1 add per output for the int32 bias, + 1 for ``relu``
jiasu::QAdd / jiasu::QMaxPool         as Add / MaxPool, + 1 add per output for QAdd's ``relu``
jiasu::LowBitConv / LowBitGemm        the Conv / Gemm of ``weight_shape`` (binary or ternary weights make
                                      each MAC an add or a subtract; it is still counted as one MAC), + 1
                                      add per output for the bias (input 3)
jiasu::SparseGemm                     as Gemm, dense-equivalent (as a Conv run by the ``sparse`` algorithm
                                      is): the rules count the model's arithmetic, not the kernel's
====================================  =====================================================================

An op type with no rule counts 0 and the profile lists it in its warnings.
Rules are plain functions in one dict, :data:`RULES`, keyed by op type
(``domain::op_type`` outside the default domain), each with the family used
for shares and colours (:data:`KINDS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import onnx_ir as ir

from .graph import Prepared, numel


@dataclass(frozen=True)
class Ops:
    """Arithmetic of one node (see the module docstring for what each count holds)."""

    macs: int = 0
    adds: int = 0
    muls: int = 0
    special: int = 0

    @property
    def flops(self) -> int:
        return 2 * self.macs + self.adds + self.muls + self.special

    def __add__(self, other: "Ops") -> "Ops":
        return Ops(self.macs + other.macs, self.adds + other.adds, self.muls + other.muls, self.special + other.special)


class ShapeUnknown(Exception):
    """A shape a rule needs was not inferred."""


class Node:
    """What a rule sees: the node, with concrete input/output shapes and attribute lookup."""

    def __init__(self, node: ir.Node, prepared: Prepared):
        self.node = node
        self._prepared = prepared

    def has(self, i: int) -> bool:
        return i < len(self.node.inputs) and self.node.inputs[i] is not None and bool(self.node.inputs[i].name)

    def inp(self, i: int) -> tuple[int, ...]:
        return self._need(self.node.inputs[i] if self.has(i) else None, f"input {i}")

    def out(self, i: int = 0) -> tuple[int, ...]:
        return self._need(self.node.outputs[i], f"output {i}")

    def attr(self, name: str, default=None):
        a = self.node.attributes.get(name)
        return default if a is None else a.value

    def _need(self, value: Optional[ir.Value], what: str) -> tuple[int, ...]:
        shape = self._prepared.shape(value)
        if shape is None:
            raise ShapeUnknown(f"{what} of {self.node.op_type} node {self.node.name!r} has no inferred shape")
        return shape


Rule = Callable[[Node], Ops]


# ---- conv and fully connected ----------------------------------------------------------------
def _conv(x: int, w: int, b: Optional[int]) -> Rule:
    def rule(n: Node) -> Ops:
        weight = n.inp(w)  # (C_out, C_in / groups, *kernel)
        out = numel(n.out())
        return Ops(macs=out * numel(weight[1:]), adds=out if b is not None and n.has(b) else 0)

    return rule


def conv_transpose(n: Node) -> Ops:
    weight = n.inp(1)  # (C_in, C_out / groups, *kernel)
    return Ops(macs=numel(n.inp(0)) * numel(weight[1:]), adds=numel(n.out()) if n.has(2) else 0)


def gemm(n: Node) -> Ops:
    a = n.inp(0)
    k = a[0] if n.attr("transA", 0) else a[1]
    out = numel(n.out())
    alpha, beta = n.attr("alpha", 1.0), n.attr("beta", 1.0)
    has_c = n.has(2) and beta != 0
    muls = (out if alpha != 1 else 0) + (out if has_c and beta != 1 else 0)
    return Ops(macs=out * k, adds=out if has_c else 0, muls=muls)


def _matmul(a: int) -> Rule:
    def rule(n: Node) -> Ops:
        return Ops(macs=numel(n.out()) * n.inp(a)[-1])

    return rule


# ---- pooling and reductions --------------------------------------------------------------------
def max_pool(n: Node) -> Ops:
    return Ops(adds=numel(n.out()) * (math.prod(n.attr("kernel_shape")) - 1))


def average_pool(n: Node) -> Ops:
    out = numel(n.out())
    return Ops(adds=out * (math.prod(n.attr("kernel_shape")) - 1), muls=out)


def global_max_pool(n: Node) -> Ops:
    return Ops(adds=numel(n.inp(0)) - numel(n.out()))


def global_average_pool(n: Node) -> Ops:
    out = numel(n.out())
    return Ops(adds=numel(n.inp(0)) - out, muls=out)


def _reduce(per_input_mul: int = 0, per_output_mul: int = 0, per_output_special: int = 0, multiply: bool = False) -> Rule:
    def rule(n: Node) -> Ops:
        inp, out = numel(n.inp(0)), numel(n.out())
        folds = inp - out
        return Ops(
            adds=0 if multiply else folds,
            muls=(folds if multiply else 0) + per_input_mul * inp + per_output_mul * out,
            special=per_output_special * out,
        )

    return rule


# ---- normalisation -----------------------------------------------------------------------------
def batch_norm(n: Node) -> Ops:
    elements, channels = numel(n.inp(0)), n.inp(0)[1]
    return Ops(adds=elements + 2 * channels, muls=elements + 2 * channels, special=channels)


def _normalize(groups: Callable[[Node], int]) -> Rule:
    def rule(n: Node) -> Ops:
        elements, g = numel(n.inp(0)), groups(n)
        return Ops(adds=3 * elements + g, muls=3 * elements + 3 * g, special=g)

    return rule


def _layer_norm_groups(n: Node) -> int:
    shape = n.inp(0)
    axis = n.attr("axis", -1) % len(shape)
    return math.prod(shape[:axis])


def lrn(n: Node) -> Ops:
    size, elements = n.attr("size"), numel(n.inp(0))
    return Ops(adds=size * elements, muls=(size + 2) * elements, special=elements)


def softmax(n: Node) -> Ops:
    e = numel(n.out())
    return Ops(adds=3 * e, muls=e, special=e)


def log_softmax(n: Node) -> Ops:
    e = numel(n.out())
    return Ops(adds=4 * e, special=2 * e)


# ---- elementwise, resize, data movement -----------------------------------------------------------
def per_element(adds: int = 0, muls: int = 0, special: int = 0) -> Rule:
    """A rule costing the given ops per output element."""

    def rule(n: Node) -> Ops:
        e = numel(n.out())
        return Ops(adds=adds * e, muls=muls * e, special=special * e)

    return rule


def variadic_adds(n: Node) -> Ops:
    """Sum/Max/Min/Mean of k inputs: k - 1 ops per output (Mean: + 1 division)."""
    e, k = numel(n.out()), sum(1 for i in range(len(n.node.inputs)) if n.has(i))
    return Ops(adds=(k - 1) * e, muls=e if n.node.op_type == "Mean" else 0)


def resize(n: Node) -> Ops:
    mode = n.attr("mode", "nearest")
    if isinstance(mode, bytes):
        mode = mode.decode()
    if mode == "nearest":
        return Ops()
    axes = sum(1 for a, b in zip(n.inp(0), n.out()) if a != b)
    points = (2 if mode == "linear" else 4) ** axes
    e = numel(n.out())
    return Ops(adds=(points - 1) * e, muls=points * e)


def free(n: Node) -> Ops:
    return Ops()


# ---- jiasu's fused ops (written by the graph passes, see jiasu.passes) ------------------------------
#: fused activations that are more than one op of their own name.
_COMPOSITE_ACTIVATIONS = {"Swish": ("Sigmoid", "Mul")}


def _fused(base: Rule) -> Rule:
    """``base`` (the Conv or Gemm fused into) plus what was fused after it: the residual Z (input 3) and the activation.

    The activation is counted by its own op's rule on the fused output, so a FusedConv
    counts what the Conv and Relu it replaced counted together.
    """

    def rule(n: Node) -> Ops:
        ops = base(n)
        if n.has(3):
            ops = ops + Ops(adds=numel(n.out()))
        activation = n.attr("activation", "") or ""
        if isinstance(activation, bytes):
            activation = activation.decode()
        for op in _COMPOSITE_ACTIVATIONS.get(activation, (activation,) if activation else ()):
            if op in RULES:
                ops = ops + RULES[op][0](n)
        return ops

    return rule


def inverted_residual(n: Node) -> Ops:
    """``jiasu::InvertedResidual``: its three convolutions, biases, residual and clamps, as the nodes it replaced count them.

    Each finite clamp bound is one comparison per element (a Relu counts 1, a ReLU6 Clip 2).
    """
    batch, cout, ho, wo = n.out()
    x = n.inp(0)
    hid = n.inp(3)[0]
    inner = (batch * x[2] * x[3] * hid, batch * ho * wo * hid, batch * ho * wo * cout)  # E, D, Y elements
    clamps = list(n.attr("clamps", [])) or [-math.inf, math.inf] * 3
    ops = Ops()
    for k, (count, w, b) in enumerate(zip(inner, (1, 3, 5), (2, 4, 6))):
        if not n.has(w):
            continue  # no expand
        bounds = sum(math.isfinite(v) for v in clamps[2 * k : 2 * k + 2])
        ops = ops + Ops(macs=count * numel(n.inp(w)[1:]), adds=count * (bounds + (1 if n.has(b) else 0)))
    return ops + Ops(adds=inner[2]) if n.has(7) else ops


# ---- jiasu's int8 and low-bit ops (passes/lower_int8.py, compress/quantize/lowbit.py) ---------------
def _with_relu(base: Rule) -> Rule:
    """``base`` plus one comparison per output element when the node's ``relu`` attribute is set."""

    def rule(n: Node) -> Ops:
        ops = base(n)
        return ops + Ops(adds=numel(n.out())) if n.attr("relu", 0) else ops

    return rule


def q_gemm(n: Node) -> Ops:
    out = numel(n.out())
    return Ops(macs=out * n.inp(3)[1], adds=out if n.has(6) else 0)  # w_q is (N, K)


def _low_bit(weight_taps: Callable[[list[int]], int]) -> Rule:
    """A LowBitConv / LowBitGemm: ``weight_taps(weight_shape)`` MACs per output, a bias add if input 3 is given."""

    def rule(n: Node) -> Ops:
        out = numel(n.out())
        return Ops(macs=out * weight_taps([int(d) for d in n.attr("weight_shape")]), adds=out if n.has(3) else 0)

    return rule


CONV, FC, POOL, NORM, ELEMENTWISE, DATA = "conv", "fc", "pool", "norm", "elementwise", "data"

# op type -> (rule, family). The one place rules are registered.
RULES: dict[str, tuple[Rule, str]] = {
    "Conv": (_conv(x=0, w=1, b=2), CONV),
    "ConvInteger": (_conv(x=0, w=1, b=None), CONV),
    "QLinearConv": (_conv(x=0, w=3, b=8), CONV),
    "ConvTranspose": (conv_transpose, CONV),
    "Gemm": (gemm, FC),
    "MatMul": (_matmul(a=0), FC),
    "MatMulInteger": (_matmul(a=0), FC),
    "QLinearMatMul": (_matmul(a=0), FC),
    "MaxPool": (max_pool, POOL),
    "AveragePool": (average_pool, POOL),
    "GlobalMaxPool": (global_max_pool, POOL),
    "GlobalAveragePool": (global_average_pool, POOL),
    "ReduceMax": (_reduce(), POOL),
    "ReduceMin": (_reduce(), POOL),
    "ReduceSum": (_reduce(), POOL),
    "ReduceMean": (_reduce(per_output_mul=1), POOL),
    "ReduceProd": (_reduce(multiply=True), POOL),
    "ReduceSumSquare": (_reduce(per_input_mul=1), POOL),
    "ReduceL2": (_reduce(per_input_mul=1, per_output_special=1), POOL),
    "ArgMax": (_reduce(), POOL),
    "ArgMin": (_reduce(), POOL),
    "BatchNormalization": (batch_norm, NORM),
    "InstanceNormalization": (_normalize(lambda n: n.inp(0)[0] * n.inp(0)[1]), NORM),
    "LayerNormalization": (_normalize(_layer_norm_groups), NORM),
    "GroupNormalization": (_normalize(lambda n: n.inp(0)[0] * n.attr("num_groups")), NORM),
    "LRN": (lrn, NORM),
    "Softmax": (softmax, NORM),
    "LogSoftmax": (log_softmax, NORM),
    "Add": (per_element(adds=1), ELEMENTWISE),
    "Sub": (per_element(adds=1), ELEMENTWISE),
    "Mul": (per_element(muls=1), ELEMENTWISE),
    "Div": (per_element(muls=1), ELEMENTWISE),
    "Sum": (variadic_adds, ELEMENTWISE),
    "Max": (variadic_adds, ELEMENTWISE),
    "Min": (variadic_adds, ELEMENTWISE),
    "Mean": (variadic_adds, ELEMENTWISE),
    "Relu": (per_element(adds=1), ELEMENTWISE),
    "LeakyRelu": (per_element(adds=1, muls=1), ELEMENTWISE),
    "PRelu": (per_element(adds=1, muls=1), ELEMENTWISE),
    "Clip": (per_element(adds=2), ELEMENTWISE),
    "Sigmoid": (per_element(adds=1, muls=1, special=1), ELEMENTWISE),
    "HardSigmoid": (per_element(adds=3, muls=1), ELEMENTWISE),
    "HardSwish": (per_element(adds=3, muls=2), ELEMENTWISE),
    "Elu": (per_element(adds=2, muls=1, special=1), ELEMENTWISE),
    "Selu": (per_element(adds=2, muls=2, special=1), ELEMENTWISE),
    "Gelu": (per_element(adds=1, muls=3, special=1), ELEMENTWISE),
    "Tanh": (per_element(special=1), ELEMENTWISE),
    "Exp": (per_element(special=1), ELEMENTWISE),
    "Log": (per_element(special=1), ELEMENTWISE),
    "Sqrt": (per_element(special=1), ELEMENTWISE),
    "Erf": (per_element(special=1), ELEMENTWISE),
    "Pow": (per_element(special=1), ELEMENTWISE),
    "Reciprocal": (per_element(muls=1), ELEMENTWISE),
    "Neg": (per_element(adds=1), ELEMENTWISE),
    "Abs": (per_element(adds=1), ELEMENTWISE),
    "Floor": (per_element(adds=1), ELEMENTWISE),
    "Ceil": (per_element(adds=1), ELEMENTWISE),
    "Round": (per_element(adds=1), ELEMENTWISE),
    "Sign": (per_element(adds=1), ELEMENTWISE),
    "Equal": (per_element(adds=1), ELEMENTWISE),
    "Greater": (per_element(adds=1), ELEMENTWISE),
    "GreaterOrEqual": (per_element(adds=1), ELEMENTWISE),
    "Less": (per_element(adds=1), ELEMENTWISE),
    "LessOrEqual": (per_element(adds=1), ELEMENTWISE),
    "Not": (per_element(adds=1), ELEMENTWISE),
    "And": (per_element(adds=1), ELEMENTWISE),
    "Or": (per_element(adds=1), ELEMENTWISE),
    "Xor": (per_element(adds=1), ELEMENTWISE),
    "Where": (per_element(adds=1), ELEMENTWISE),
    "QuantizeLinear": (per_element(adds=3, muls=1), ELEMENTWISE),
    "DequantizeLinear": (per_element(adds=1, muls=1), ELEMENTWISE),
    "Resize": (resize, DATA),
    "Upsample": (resize, DATA),
    **{
        op: (free, DATA)
        for op in (
            "Identity", "Dropout", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat", "Split",
            "Slice", "Gather", "GatherElements", "GatherND", "Expand", "Tile", "Pad", "Cast", "CastLike", "Shape",
            "Size", "Constant", "ConstantOfShape", "Range", "DepthToSpace", "SpaceToDepth", "ScatterND",
            "ScatterElements", "NonZero", "OneHot", "Trilu",
        )
    },
    "jiasu::FusedConv": (_fused(_conv(x=0, w=1, b=2)), CONV),
    "jiasu::FusedGemm": (_fused(gemm), FC),
    "jiasu::InvertedResidual": (inverted_residual, CONV),
    "jiasu::QConv": (_with_relu(_conv(x=0, w=3, b=8)), CONV),
    "jiasu::QGemm": (_with_relu(q_gemm), FC),
    "jiasu::QAdd": (_with_relu(per_element(adds=1)), ELEMENTWISE),
    "jiasu::QMaxPool": (max_pool, POOL),
    # weight_shape: (C_out, C_in / groups, *kernel) for the conv, (N, K) for the gemm
    "jiasu::LowBitConv": (_low_bit(lambda shape: math.prod(shape[1:])), CONV),
    "jiasu::LowBitGemm": (_low_bit(lambda shape: shape[1]), FC),
    "jiasu::SparseGemm": (gemm, FC),
}  # fmt: skip

KINDS: dict[str, str] = {op: kind for op, (_, kind) in RULES.items()}


def op_key(node: ir.Node) -> str:
    """``node``'s key in :data:`RULES`: its op type, ``domain::op_type`` outside the default domain."""
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"


def count_ops(node: ir.Node, prepared: Prepared) -> Ops:
    """The node's arithmetic; ``KeyError`` for an op type without a rule, ``ShapeUnknown`` for a missing shape."""
    rule, _ = RULES[op_key(node)]
    return rule(Node(node, prepared))
