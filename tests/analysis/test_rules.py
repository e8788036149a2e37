"""Hand-computed counts for every op type with a counting rule, on one-node graphs.

``CASES`` is the table: one or more cases per op type, the arithmetic worked
out in each comment. ``test_every_rule_has_a_case`` keeps it in step with
``RULES``.
"""

from __future__ import annotations

import math

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from onnx import TensorProto

from jiasu.analysis.rules import RULES, Ops, free

from ._build import counted, f32, one_node

FLOAT, UINT8, BOOL = TensorProto.FLOAT, TensorProto.UINT8, TensorProto.BOOL
S, Z = np.float32(0.1), np.uint8(0)  # quantisation scale and zero point
I64 = np.int64


@dataclass
class Case:
    id: str
    op: str
    x: list
    weights: tuple = ()
    want: Ops = Ops()
    attrs: dict[str, Any] = field(default_factory=dict)
    x_dtype: int = FLOAT
    opset: int = 17
    batch: int = 1
    y_shape: Any = None


def case(id, op, x, *weights, want, x_dtype=FLOAT, opset=17, batch=1, y_shape=None, **attrs) -> Case:
    return Case(id, op, x, weights, want, attrs, x_dtype, opset, batch, y_shape)


CASES = [
    # ---- convolution
    # out 1x4x8x8 = 256 elements x (3 channels x 3x3 taps = 27) MACs; a bias add per output
    case("conv", "Conv", [1, 3, 8, 8], f32(4, 3, 3, 3), f32(4), pads=[1, 1, 1, 1], want=Ops(macs=256 * 27, adds=256)),
    # 9x9, k3, stride 2, no pad -> 4x4; 4 filters: 64 outputs x 27; no bias
    case("conv-stride", "Conv", [1, 3, 9, 9], f32(4, 3, 3, 3), strides=[2, 2], want=Ops(macs=64 * 27)),
    # dilation 2: the 3x3 kernel spans 5x5, 9x9 -> 5x5; 3 filters: 75 outputs x (2 ch x 9 taps): no extra taps
    case("conv-dilation", "Conv", [1, 2, 9, 9], f32(3, 2, 3, 3), dilations=[2, 2], want=Ops(macs=75 * 18)),
    # depthwise, 8 channels, 6x6 pad 1: 288 outputs x 1 channel x 9 taps
    case("conv-depthwise", "Conv", [1, 8, 6, 6], f32(8, 1, 3, 3), group=8, pads=[1, 1, 1, 1], want=Ops(macs=288 * 9)),
    # 2 groups, 1x1: 6 filters x 25 positions = 150 outputs x 2 input channels per group
    case("conv-groups", "Conv", [1, 4, 5, 5], f32(6, 2, 1, 1), group=2, want=Ops(macs=150 * 2)),
    # Conv1d at batch 3: 5 filters x 8 positions = 40 outputs per item x (4 ch x 3 taps)
    case("conv-1d-batch", "Conv", ["N", 4, 10], f32(5, 4, 3), batch=3, want=Ops(macs=3 * 40 * 12)),
    # every input pixel (2 ch x 3x3 = 18) is scattered through C_out=4 x 3x3 taps; output 4x7x7 = 196 gets a bias add
    case("conv-transpose", "ConvTranspose", [1, 2, 3, 3], f32(2, 4, 3, 3), f32(4), strides=[2, 2], want=Ops(macs=18 * 36, adds=196)),
    # 2 groups: C_out / groups = 2 output channels per input pixel, 2x2 taps
    case("conv-transpose-groups", "ConvTranspose", [1, 2, 3, 3], f32(2, 2, 2, 2), group=2, want=Ops(macs=18 * 2 * 4)),
    # as Conv: 8x8 k3 -> 1x4x6x6 = 144 outputs x 27; no bias input
    case("conv-integer", "ConvInteger", [1, 3, 8, 8], np.zeros((4, 3, 3, 3), np.uint8), x_dtype=UINT8, want=Ops(macs=144 * 27)),
    # inputs x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, bias (int32): bias adds 144
    case(
        "qlinear-conv", "QLinearConv", [1, 3, 8, 8], S, Z, np.zeros((4, 3, 3, 3), np.uint8), S, Z, S, Z, np.zeros(4, np.int32),
        x_dtype=UINT8, want=Ops(macs=144 * 27, adds=144),
    ),  # fmt: skip
    # ---- fully connected
    # 2x5 @ 5x3: 6 outputs x K=5; C: 6 adds
    case("gemm", "Gemm", [2, 5], f32(5, 3), f32(3), want=Ops(macs=30, adds=6)),
    # transA (A is K x M = 5x2); alpha 2 and beta 0.5 each cost a multiply per output
    case("gemm-scaled", "Gemm", [5, 2], f32(5, 3), f32(3), transA=1, alpha=2.0, beta=0.5, want=Ops(macs=30, adds=6, muls=12)),
    case("gemm-transB-no-C", "Gemm", [2, 5], f32(3, 5), transB=1, want=Ops(macs=30)),
    # 2x3x4x5 @ 5x6 -> 2x3x4x6 = 144 outputs x K=5
    case("matmul-batched", "MatMul", [2, 3, 4, 5], f32(5, 6), want=Ops(macs=720)),
    # 4x5 @ (5,) -> 4 outputs x 5
    case("matmul-vector", "MatMul", [4, 5], f32(5), want=Ops(macs=20)),
    case("matmul-integer", "MatMulInteger", [4, 5], np.zeros((5, 6), np.uint8), x_dtype=UINT8, want=Ops(macs=24 * 5)),
    case("qlinear-matmul", "QLinearMatMul", [4, 5], S, Z, np.zeros((5, 6), np.uint8), S, Z, S, Z, x_dtype=UINT8, want=Ops(macs=24 * 5)),
    # ---- pooling
    # 2x2/2 on 2x6x6 -> 18 outputs, 3 comparisons each
    case("maxpool", "MaxPool", [1, 2, 6, 6], kernel_shape=[2, 2], strides=[2, 2], want=Ops(adds=54)),
    # 3x3/1 on 2x6x6 -> 32 outputs: 8 adds + 1 divide each
    case("avgpool", "AveragePool", [1, 2, 6, 6], kernel_shape=[3, 3], want=Ops(adds=256, muls=32)),
    # 3 channels of 4x4: 15 adds each (+ 1 divide for the mean)
    case("global-avgpool", "GlobalAveragePool", [1, 3, 4, 4], want=Ops(adds=45, muls=3)),
    case("global-maxpool", "GlobalMaxPool", [1, 3, 4, 4], want=Ops(adds=45)),
    # ---- reductions: 2x3x4 over the last axis, 24 inputs fold into 6 outputs -> 18 combining ops
    case("reduce-max", "ReduceMax", [2, 3, 4], axes=[2], keepdims=0, want=Ops(adds=18)),
    case("reduce-min", "ReduceMin", [2, 3, 4], axes=[2], keepdims=0, want=Ops(adds=18)),
    case("reduce-sum", "ReduceSum", [2, 3, 4], np.array([2], I64), keepdims=0, want=Ops(adds=18)),
    case("reduce-mean", "ReduceMean", [2, 3, 4], axes=[2], keepdims=0, want=Ops(adds=18, muls=6)),
    case("reduce-prod", "ReduceProd", [2, 3, 4], axes=[2], keepdims=0, want=Ops(muls=18)),
    case("reduce-sum-square", "ReduceSumSquare", [2, 3, 4], axes=[2], keepdims=0, want=Ops(adds=18, muls=24)),
    case("reduce-l2", "ReduceL2", [2, 3, 4], axes=[2], keepdims=0, want=Ops(adds=18, muls=24, special=6)),
    case("argmax", "ArgMax", [2, 3, 4], axis=2, keepdims=0, want=Ops(adds=18)),
    case("argmin", "ArgMin", [2, 3, 4], axis=2, keepdims=0, want=Ops(adds=18)),
    # ---- normalisation
    # 12 elements: 1 mul + 1 add; 3 channels: 2 adds, 2 muls, 1 sqrt each for scale and shift
    case("batchnorm", "BatchNormalization", [1, 3, 2, 2], *[np.ones(3, np.float32)] * 4, want=Ops(adds=18, muls=18, special=3)),
    # 24 elements in 6 rows of 4: per element 3 adds + 3 muls; per row 1 add, 3 muls, 1 sqrt
    case(
        "layernorm", "LayerNormalization", [2, 3, 4], np.ones(4, np.float32), np.zeros(4, np.float32),
        want=Ops(adds=78, muls=90, special=6),
    ),  # fmt: skip
    # 2x3x2x2: 6 (image, channel) groups of 4 elements
    case("instancenorm", "InstanceNormalization", [2, 3, 2, 2], *[np.ones(3, np.float32)] * 2, want=Ops(adds=78, muls=90, special=6)),
    # 2x6x1x2 with 3 groups per image: 6 groups of 4 elements (ONNX infers no shape for this op: declared)
    case(
        "groupnorm", "GroupNormalization", [2, 6, 1, 2], *[np.ones(6, np.float32)] * 2, num_groups=3, opset=21, y_shape=[2, 6, 1, 2],
        want=Ops(adds=78, muls=90, special=6),
    ),  # fmt: skip
    # size 5 on 16 elements: 5 squares and 5 adds (the window sum), 1 pow, then scale and divide
    case("lrn", "LRN", [1, 4, 2, 2], size=5, want=Ops(adds=80, muls=16 * 7, special=16)),
    # 10 elements: max, subtract, exp, add to the sum, divide
    case("softmax", "Softmax", [2, 5], want=Ops(adds=30, muls=10, special=10)),
    # 10 elements: max, subtract, exp, add to the sum, log, subtract
    case("log-softmax", "LogSoftmax", [2, 5], want=Ops(adds=40, special=20)),
    # ---- quantisation: divide, round, add zero point, clamp (2 compares); dequantize: subtract, multiply
    case("quantize", "QuantizeLinear", [2, 3], S, Z, want=Ops(adds=18, muls=6)),
    case("dequantize", "DequantizeLinear", [2, 3], S, Z, x_dtype=UINT8, want=Ops(adds=6, muls=6)),
    # ---- resize: 2x2 -> 4x4 = 16 outputs over 2 resized axes
    case("resize-nearest", "Resize", [1, 1, 2, 2], None, np.array([1, 1, 2, 2], np.float32), mode="nearest", want=Ops()),
    # bilinear: 4 products and 3 adds per output
    case("resize-linear", "Resize", [1, 1, 2, 2], None, np.array([1, 1, 2, 2], np.float32), mode="linear", want=Ops(adds=48, muls=64)),
    # bicubic: 16 products and 15 adds
    case("resize-cubic", "Resize", [1, 1, 2, 2], None, np.array([1, 1, 2, 2], np.float32), mode="cubic", want=Ops(adds=240, muls=256)),
    case("upsample", "Upsample", [1, 1, 2, 2], np.array([1, 1, 2, 2], np.float32), mode="linear", opset=9, want=Ops(adds=48, muls=64)),
    # ---- broadcasting: a (3,) operand against 2x3 still gives 6 outputs
    case("add-broadcast", "Add", [2, 3], f32(3), want=Ops(adds=6)),
    case("where", "Where", [2, 3], f32(2, 3), f32(3), x_dtype=BOOL, want=Ops(adds=6)),
]

# Elementwise ops on a 2x3 input (6 outputs): (op, extra inputs, per-element adds, muls, special).
ELEMENTWISE = [
    ("Add", ("b",), 1, 0, 0), ("Sub", ("b",), 1, 0, 0), ("Mul", ("b",), 0, 1, 0), ("Div", ("b",), 0, 1, 0),
    ("Relu", (), 1, 0, 0), ("LeakyRelu", (), 1, 1, 0), ("PRelu", ("b",), 1, 1, 0), ("Clip", (), 2, 0, 0),
    ("Sigmoid", (), 1, 1, 1), ("HardSigmoid", (), 3, 1, 0), ("HardSwish", (), 3, 2, 0), ("Elu", (), 2, 1, 1),
    ("Selu", (), 2, 2, 1), ("Gelu", (), 1, 3, 1), ("Tanh", (), 0, 0, 1), ("Exp", (), 0, 0, 1), ("Log", (), 0, 0, 1),
    ("Sqrt", (), 0, 0, 1), ("Erf", (), 0, 0, 1), ("Pow", ("b",), 0, 0, 1), ("Reciprocal", (), 0, 1, 0),
    ("Neg", (), 1, 0, 0), ("Abs", (), 1, 0, 0), ("Floor", (), 1, 0, 0), ("Ceil", (), 1, 0, 0), ("Round", (), 1, 0, 0),
    ("Sign", (), 1, 0, 0), ("Equal", ("b",), 1, 0, 0), ("Greater", ("b",), 1, 0, 0), ("GreaterOrEqual", ("b",), 1, 0, 0),
    ("Less", ("b",), 1, 0, 0), ("LessOrEqual", ("b",), 1, 0, 0),
    # Sum/Max/Min/Mean of 3 inputs: 2 combining ops per output (+ 1 divide for Mean)
    ("Sum", ("b", "c"), 2, 0, 0), ("Max", ("b", "c"), 2, 0, 0), ("Min", ("b", "c"), 2, 0, 0), ("Mean", ("b", "c"), 2, 1, 0),
]  # fmt: skip
CASES += [
    case(op.lower(), op, [2, 3], *extra, opset=20 if op == "Gelu" else 17, want=Ops(adds=6 * a, muls=6 * m, special=6 * s))
    for op, extra, a, m, s in ELEMENTWISE
]
CASES += [case(op.lower(), op, [2, 3], *(() if op == "Not" else ("b",)), x_dtype=BOOL, want=Ops(adds=6)) for op in ("Not", "And", "Or", "Xor")]
# Data movement costs nothing.
CASES += [
    case("reshape", "Reshape", [2, 3], np.array([3, 2], I64), want=Ops()),
    case("flatten", "Flatten", [2, 3], want=Ops()),
    case("transpose", "Transpose", [2, 3], perm=[1, 0], want=Ops()),
    case("concat", "Concat", [2, 3], "b", axis=0, want=Ops()),
    case("dropout", "Dropout", [2, 3], want=Ops()),
    case("cast", "Cast", [2, 3], to=TensorProto.FLOAT16, want=Ops()),
    case("pad", "Pad", [2, 3], np.array([0, 1, 0, 1], I64), want=Ops()),
]

# jiasu's fused ops (what the graph passes write): the Conv/Gemm, then a residual Z, then the activation.
# ONNX infers nothing for them, so the output is declared, as the passes declare it.
CASES += [
    # conv as above (256 outputs x 27 MACs, 256 bias adds) + Relu: 1 add per output
    case("fused-conv-relu", "jiasu::FusedConv", [1, 3, 8, 8], f32(4, 3, 3, 3), f32(4), pads=[1, 1, 1, 1], activation="Relu",
         y_shape=[1, 4, 8, 8], want=Ops(macs=256 * 27, adds=256 + 256)),
    # 3 filters: 192 outputs x 27 MACs; per output: bias add, Z add, and Swish = Sigmoid (add, mul, exp) + Mul
    case("fused-conv-residual-swish", "jiasu::FusedConv", [1, 3, 8, 8], f32(3, 3, 3, 3), f32(3), "z", pads=[1, 1, 1, 1],
         activation="Swish", y_shape=[1, 3, 8, 8], want=Ops(macs=192 * 27, adds=3 * 192, muls=2 * 192, special=192)),
    # 2x6 @ (5x6)^T: 10 outputs x 6 MACs, 10 adds for C; LeakyRelu: 1 add + 1 mul per output
    case("fused-gemm-leaky", "jiasu::FusedGemm", [2, 6], f32(5, 6), f32(5), transB=1, activation="LeakyRelu",
         activation_params=[0.1], y_shape=[2, 5], want=Ops(macs=60, adds=20, muls=10)),
    # expand 4 -> 16 on 64 pixels: 1024 elements x 4 MACs, each + bias + 2 ReLU6 bounds; depthwise: 1024 x 9 MACs,
    # the same 3 adds; project 16 -> 4: 256 outputs x 16 MACs, + bias + the residual Z (its clamp is open)
    case("inverted-residual", "jiasu::InvertedResidual", [1, 4, 8, 8], f32(16, 4, 1, 1), f32(16), f32(16, 1, 3, 3), f32(16),
         f32(4, 16, 1, 1), f32(4), "z", stride=1, clamps=[0, 6, 0, 6, -math.inf, math.inf], y_shape=[1, 4, 8, 8],
         want=Ops(macs=1024 * 4 + 1024 * 9 + 256 * 16, adds=3 * 1024 + 3 * 1024 + 2 * 256)),
    # no expand, stride 2, no biases: depthwise 4x4 x 16 = 256 elements x 9, 1 ReLU bound each; project 128 x 16
    case("inverted-residual-no-expand", "jiasu::InvertedResidual", [1, 16, 8, 8], None, None, f32(16, 1, 3, 3), None,
         f32(8, 16, 1, 1), None, stride=2, clamps=[-math.inf, math.inf, 0, math.inf, -math.inf, math.inf],
         y_shape=[1, 8, 4, 4], want=Ops(macs=256 * 9 + 128 * 16, adds=256)),
]  # fmt: skip

# jiasu's int8 ops (what lower_int8 writes) and low-bit / sparse ops: declared outputs, as above.
I8, I32 = np.int8, np.int32
CASES += [
    # QLinearConv's inputs: 144 outputs x 27 MACs, 144 bias adds, 144 ReLU comparisons
    case("q-conv-relu", "jiasu::QConv", [1, 3, 8, 8], S, Z, np.zeros((4, 3, 3, 3), I8), S, Z, S, Z, np.zeros(4, I32), relu=1,
         x_dtype=UINT8, y_shape=[1, 4, 6, 6], want=Ops(macs=144 * 27, adds=2 * 144)),
    # x (2, 6) @ w (5, 6)^T: 10 outputs x K=6; the int32 bias: 10 adds
    case("q-gemm", "jiasu::QGemm", [2, 6], S, Z, np.zeros((5, 6), I8), S, Z, np.zeros(5, I32), S, Z,
         x_dtype=UINT8, y_shape=[2, 5], want=Ops(macs=60, adds=10)),
    # no bias, ReLU: 10 comparisons
    case("q-gemm-relu-no-bias", "jiasu::QGemm", [2, 6], S, Z, np.zeros((5, 6), I8), S, Z, None, S, Z, relu=1,
         x_dtype=UINT8, y_shape=[2, 5], want=Ops(macs=60, adds=10)),
    # 6 adds, 6 ReLU comparisons
    case("q-add-relu", "jiasu::QAdd", [2, 3], S, Z, "b", S, Z, S, Z, relu=1, x_dtype=UINT8, y_shape=[2, 3], want=Ops(adds=12)),
    # 2x2 windows: 8 outputs x 3 comparisons
    case("q-max-pool", "jiasu::QMaxPool", [1, 2, 4, 4], kernel_shape=[2, 2], strides=[2, 2], x_dtype=UINT8, y_shape=[1, 2, 2, 2],
         want=Ops(adds=24)),
    # the conv of weight_shape (4, 3, 3, 3): 144 outputs x 27, + 144 bias adds
    case("low-bit-conv", "jiasu::LowBitConv", [1, 3, 8, 8], np.zeros((4, 7), np.uint8), f32(4), f32(4), kind="ternary",
         weight_shape=[4, 3, 3, 3], y_shape=[1, 4, 6, 6], want=Ops(macs=144 * 27, adds=144)),
    # (2, 6) @ (5, 6)^T, no bias: 10 outputs x 6
    case("low-bit-gemm", "jiasu::LowBitGemm", [2, 6], np.zeros((5, 1), np.uint8), f32(5), kind="binary", weight_shape=[5, 6],
         y_shape=[2, 5], want=Ops(macs=60)),
    # as Gemm (dense-equivalent): 10 outputs x 6, 10 adds for C
    case("sparse-gemm", "jiasu::SparseGemm", [2, 6], f32(5, 6), f32(5), transB=1, y_shape=[2, 5], want=Ops(macs=60, adds=10)),
]  # fmt: skip


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_hand_counts(c: Case):
    model = one_node(c.op, c.x, *c.weights, x_dtype=c.x_dtype, opset=c.opset, y_shape=c.y_shape, **c.attrs)
    counts, warnings = counted(model, batch=c.batch)
    assert warnings == []
    (node,) = counts
    assert node.ops == c.want


def test_every_rule_has_a_case():
    costed = {op for op, (rule, _) in RULES.items() if rule is not free}
    missing = sorted(costed - {c.op for c in CASES})
    assert missing == [], f"RULES entries without a hand-computed case in CASES: {missing}"


def test_unknown_op_counts_zero_with_a_warning():
    counts, warnings = counted(one_node("Einsum", [2, 3], f32(3, 4), equation="ij,jk->ik"))
    assert counts[0].ops == Ops()
    assert warnings == ["no counting rule for Einsum (1 node, first 'node'): counted as 0 MACs and 0 FLOPs"]


def test_flops_are_two_per_mac_plus_the_rest():
    assert Ops(macs=10, adds=3, muls=2, special=1).flops == 26
