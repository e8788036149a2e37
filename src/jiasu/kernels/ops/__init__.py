"""Operator kernels, one per file, registered here and nowhere else.

To add an op: write ``kernels/ops/<snake_name>.py`` with a :class:`Kernel`
subclass named after the ONNX op (see ``kernels/base.py``), import it below and
add it to ``_KERNELS``. The conformance tests (``tests/runtime``) then run the
ONNX backend node tests of that op against it.
"""

from __future__ import annotations

from ..base import Kernel
from .abs import Abs
from .acos import Acos
from .acosh import Acosh
from .add import Add
from .and_ import And
from .arg_max import ArgMax
from .arg_min import ArgMin
from .asin import Asin
from .asinh import Asinh
from .atan import Atan
from .atanh import Atanh
from .average_pool import AveragePool
from .batch_normalization import BatchNormalization
from .bit_shift import BitShift
from .bitwise_and import BitwiseAnd
from .bitwise_not import BitwiseNot
from .bitwise_or import BitwiseOr
from .bitwise_xor import BitwiseXor
from .cast import Cast
from .cast_like import CastLike
from .ceil import Ceil
from .celu import Celu
from .clip import Clip
from .compress import Compress
from .concat import Concat
from .constant import Constant
from .constant_of_shape import ConstantOfShape
from .conv import Conv
from .conv_transpose import ConvTranspose
from .cos import Cos
from .cosh import Cosh
from .cum_prod import CumProd
from .cum_sum import CumSum
from .depth_to_space import DepthToSpace
from .det import Det
from .div import Div
from .dropout import Dropout
from .einsum import Einsum
from .elu import Elu
from .equal import Equal
from .erf import Erf
from .exp import Exp
from .expand import Expand
from .eye_like import EyeLike
from .flatten import Flatten
from .fused_conv import FusedConv
from .fused_gemm import FusedGemm
from .floor import Floor
from .gather import Gather
from .gather_elements import GatherElements
from .gather_nd import GatherND
from .gelu import Gelu
from .gemm import Gemm
from .global_average_pool import GlobalAveragePool
from .global_max_pool import GlobalMaxPool
from .greater import Greater
from .greater_or_equal import GreaterOrEqual
from .group_normalization import GroupNormalization
from .hard_sigmoid import HardSigmoid
from .hard_swish import HardSwish
from .hardmax import Hardmax
from .identity import Identity
from .inverted_residual import InvertedResidual
from .instance_normalization import InstanceNormalization
from .is_inf import IsInf
from .is_nan import IsNaN
from .layer_normalization import LayerNormalization
from .leaky_relu import LeakyRelu
from .less import Less
from .less_or_equal import LessOrEqual
from .log import Log
from .log_softmax import LogSoftmax
from .lp_normalization import LpNormalization
from .lp_pool import LpPool
from .lrn import LRN
from .mat_mul import MatMul
from .max import Max
from .max_pool import MaxPool
from .mean import Mean
from .mean_variance_normalization import MeanVarianceNormalization
from .min import Min
from .mish import Mish
from .mod import Mod
from .mul import Mul
from .neg import Neg
from .non_zero import NonZero
from .not_ import Not
from .one_hot import OneHot
from .or_ import Or
from .pad import Pad
from .pow import Pow
from .prelu import PRelu
from .range import Range
from .reciprocal import Reciprocal
from .reduce_l1 import ReduceL1
from .reduce_l2 import ReduceL2
from .reduce_log_sum import ReduceLogSum
from .reduce_log_sum_exp import ReduceLogSumExp
from .reduce_max import ReduceMax
from .reduce_mean import ReduceMean
from .reduce_min import ReduceMin
from .reduce_prod import ReduceProd
from .reduce_sum import ReduceSum
from .reduce_sum_square import ReduceSumSquare
from .relu import Relu
from .reshape import Reshape
from .resize import Resize
from .rms_normalization import RMSNormalization
from .round import Round
from .scatter_elements import ScatterElements
from .scatter_nd import ScatterND
from .selu import Selu
from .shape import Shape
from .shrink import Shrink
from .sigmoid import Sigmoid
from .sign import Sign
from .sin import Sin
from .sinh import Sinh
from .size import Size
from .slice import Slice
from .softmax import Softmax
from .sparse_gemm import SparseGemm
from .softplus import Softplus
from .softsign import Softsign
from .space_to_depth import SpaceToDepth
from .split import Split
from .sqrt import Sqrt
from .squeeze import Squeeze
from .sub import Sub
from .sum import Sum
from .swish import Swish
from .tan import Tan
from .tanh import Tanh
from .thresholded_relu import ThresholdedRelu
from .tile import Tile
from .top_k import TopK
from .transpose import Transpose
from .trilu import Trilu
from .unsqueeze import Unsqueeze
from .upsample import Upsample
from .where import Where
from .xor import Xor
# quantization (issue 6): ONNX's integer ops and jiasu's lowered int8 kernels
from .conv_integer import ConvInteger
from .dequantize_linear import DequantizeLinear
from .dynamic_quantize_linear import DynamicQuantizeLinear
from .mat_mul_integer import MatMulInteger
from .q_linear_conv import QLinearConv
from .q_linear_mat_mul import QLinearMatMul
from .quantize_linear import QuantizeLinear
from .q_conv import QConv
from .q_gemm import QGemm
from .q_add import QAdd
from .q_max_pool import QMaxPool
from .low_bit_conv import LowBitConv
from .low_bit_gemm import LowBitGemm

_KERNELS: list[type[Kernel]] = [
    Abs,
    Acos,
    Acosh,
    Add,
    And,
    ArgMax,
    ArgMin,
    Asin,
    Asinh,
    Atan,
    Atanh,
    AveragePool,
    BatchNormalization,
    BitShift,
    BitwiseAnd,
    BitwiseNot,
    BitwiseOr,
    BitwiseXor,
    Cast,
    CastLike,
    Ceil,
    Celu,
    Clip,
    Compress,
    Concat,
    Constant,
    ConstantOfShape,
    Conv,
    ConvTranspose,
    Cos,
    Cosh,
    CumProd,
    CumSum,
    DepthToSpace,
    Det,
    Div,
    Dropout,
    Einsum,
    Elu,
    Equal,
    Erf,
    Exp,
    Expand,
    EyeLike,
    Flatten,
    FusedConv,
    FusedGemm,
    Floor,
    Gather,
    GatherElements,
    GatherND,
    Gelu,
    Gemm,
    GlobalAveragePool,
    GlobalMaxPool,
    Greater,
    GreaterOrEqual,
    GroupNormalization,
    Hardmax,
    HardSigmoid,
    HardSwish,
    Identity,
    InstanceNormalization,
    InvertedResidual,
    IsInf,
    IsNaN,
    LayerNormalization,
    LeakyRelu,
    Less,
    LessOrEqual,
    Log,
    LogSoftmax,
    LpNormalization,
    LpPool,
    LRN,
    MatMul,
    Max,
    MaxPool,
    Mean,
    MeanVarianceNormalization,
    Min,
    Mish,
    Mod,
    Mul,
    Neg,
    NonZero,
    Not,
    OneHot,
    Or,
    Pad,
    Pow,
    PRelu,
    Range,
    Reciprocal,
    ReduceL1,
    ReduceL2,
    ReduceLogSum,
    ReduceLogSumExp,
    ReduceMax,
    ReduceMean,
    ReduceMin,
    ReduceProd,
    ReduceSum,
    ReduceSumSquare,
    Relu,
    Reshape,
    Resize,
    RMSNormalization,
    Round,
    ScatterElements,
    ScatterND,
    Selu,
    Shape,
    Shrink,
    Sigmoid,
    Sign,
    Sin,
    Sinh,
    Size,
    Slice,
    Softmax,
    SparseGemm,
    Softplus,
    Softsign,
    SpaceToDepth,
    Split,
    Sqrt,
    Squeeze,
    Sub,
    Sum,
    Swish,
    Tan,
    Tanh,
    ThresholdedRelu,
    Tile,
    TopK,
    Transpose,
    Trilu,
    Unsqueeze,
    Upsample,
    Where,
    Xor,
    ConvInteger,
    DequantizeLinear,
    DynamicQuantizeLinear,
    MatMulInteger,
    QLinearConv,
    QLinearMatMul,
    QuantizeLinear,
    QConv,
    QGemm,
    QAdd,
    QMaxPool,
    LowBitConv,
    LowBitGemm,
]

#: (domain, op_type) -> kernel class.
KERNELS: dict[tuple[str, str], type[Kernel]] = {(k.domain, k.op_type()): k for k in _KERNELS}

__all__ = ["KERNELS"]
