"""Operator kernels, one per file, registered here and nowhere else.

To add an op: write ``kernels/ops/<snake_name>.py`` with a :class:`Kernel`
subclass named after the ONNX op (see ``kernels/base.py``), import it below and
add it to ``_KERNELS``. The conformance tests (``tests/runtime``) then run the
ONNX backend node tests of that op against it.
"""

from __future__ import annotations

from ..base import Kernel
from .abs import Abs
from .add import Add
from .average_pool import AveragePool
from .batch_normalization import BatchNormalization
from .cast import Cast
from .ceil import Ceil
from .clip import Clip
from .concat import Concat
from .constant import Constant
from .constant_of_shape import ConstantOfShape
from .conv import Conv
from .conv_transpose import ConvTranspose
from .div import Div
from .dropout import Dropout
from .elu import Elu
from .equal import Equal
from .erf import Erf
from .exp import Exp
from .expand import Expand
from .flatten import Flatten
from .floor import Floor
from .gather import Gather
from .gelu import Gelu
from .gemm import Gemm
from .global_average_pool import GlobalAveragePool
from .global_max_pool import GlobalMaxPool
from .greater import Greater
from .hard_sigmoid import HardSigmoid
from .hard_swish import HardSwish
from .identity import Identity
from .leaky_relu import LeakyRelu
from .less import Less
from .log import Log
from .log_softmax import LogSoftmax
from .mat_mul import MatMul
from .max import Max
from .max_pool import MaxPool
from .min import Min
from .mul import Mul
from .neg import Neg
from .not_ import Not
from .pad import Pad
from .pow import Pow
from .prelu import PRelu
from .range import Range
from .reciprocal import Reciprocal
from .reduce_max import ReduceMax
from .reduce_mean import ReduceMean
from .reduce_min import ReduceMin
from .reduce_sum import ReduceSum
from .relu import Relu
from .reshape import Reshape
from .resize import Resize
from .shape import Shape
from .sigmoid import Sigmoid
from .size import Size
from .slice import Slice
from .softmax import Softmax
from .softplus import Softplus
from .split import Split
from .sqrt import Sqrt
from .squeeze import Squeeze
from .sub import Sub
from .sum import Sum
from .tanh import Tanh
from .tile import Tile
from .transpose import Transpose
from .unsqueeze import Unsqueeze
from .where import Where

_KERNELS: list[type[Kernel]] = [
    Abs,
    Add,
    AveragePool,
    BatchNormalization,
    Cast,
    Ceil,
    Clip,
    Concat,
    Constant,
    ConstantOfShape,
    Conv,
    ConvTranspose,
    Div,
    Dropout,
    Elu,
    Equal,
    Erf,
    Exp,
    Expand,
    Flatten,
    Floor,
    Gather,
    Gelu,
    Gemm,
    GlobalAveragePool,
    GlobalMaxPool,
    Greater,
    HardSigmoid,
    HardSwish,
    Identity,
    LeakyRelu,
    Less,
    Log,
    LogSoftmax,
    MatMul,
    Max,
    MaxPool,
    Min,
    Mul,
    Neg,
    Not,
    Pad,
    Pow,
    PRelu,
    Range,
    Reciprocal,
    ReduceMax,
    ReduceMean,
    ReduceMin,
    ReduceSum,
    Relu,
    Reshape,
    Resize,
    Shape,
    Sigmoid,
    Size,
    Slice,
    Softmax,
    Softplus,
    Split,
    Sqrt,
    Squeeze,
    Sub,
    Sum,
    Tanh,
    Tile,
    Transpose,
    Unsqueeze,
    Where,
]

#: (domain, op_type) -> kernel class.
KERNELS: dict[tuple[str, str], type[Kernel]] = {(k.domain, k.op_type()): k for k in _KERNELS}

__all__ = ["KERNELS"]
