"""The contract every convolution algorithm implements.

An algorithm computes a 2-D convolution (cross-correlation, as ONNX ``Conv``)
of an NCHW tensor. The Conv node kernel hands 1-D convolutions to algorithms as
2-D ones with a height of 1, so a 2-D algorithm serves both; N-D (3-D) convs are
``direct`` only.

Lifecycle: ``check(spec)`` says whether the algorithm applies (``None``) or why
not (a short reason shown in the per-node report); ``prepare(weight, bias, spec)``
runs once at load time (weight transforms belong here) and returns a callable
``x -> y`` that the engine calls on every run. The callable may cache work that
depends on the input's spatial size (FFT plans, for instance); it must not
modify ``x``, must return a tensor the caller owns (not a view of ``x`` or of a
weight: epilogues update it in place), and must work on any device the weight
lives on. The input may be NCHW or channels_last; the output may be either.

Fused convolutions (``jiasu::FusedConv``) add an :class:`Epilogue`,
``y = act(conv(x) + z)``: ``prepare_fused`` returns ``(x, z) -> y``. Its default
applies the epilogue in place after ``prepare``'s callable; algorithms that can
do it inside their last pass over the output (oneDNN post-ops, Winograd's output
transform) override it and save one read and write of ``y``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import torch
import torch.nn.functional as F

ConvFn = Callable[[torch.Tensor], torch.Tensor]
FusedConvFn = Callable[[torch.Tensor, Optional[torch.Tensor]], torch.Tensor]

#: In-place activation of a fused conv/gemm, by its ONNX name; ``params`` as in
#: ``jiasu::FusedConv``'s ``activation_params`` (Clip: min, max; LeakyRelu: alpha).
ACTIVATIONS: dict[str, Callable[[torch.Tensor, tuple], torch.Tensor]] = {
    "Relu": lambda y, p: y.relu_(),
    "Clip": lambda y, p: y.clamp_(None if math.isinf(p[0]) else p[0], None if math.isinf(p[1]) else p[1]),
    "LeakyRelu": lambda y, p: F.leaky_relu(y, p[0], inplace=True),
    "HardSwish": lambda y, p: F.hardswish(y, inplace=True),
    "Sigmoid": lambda y, p: y.sigmoid_(),
    "Tanh": lambda y, p: y.tanh_(),
    "Swish": lambda y, p: F.silu(y, inplace=True),
}
#: How many ``activation_params`` each activation takes.
ACTIVATION_ARITY = {"Relu": 0, "Clip": 2, "LeakyRelu": 1, "HardSwish": 0, "Sigmoid": 0, "Tanh": 0, "Swish": 0}


@dataclass(frozen=True)
class Epilogue:
    """What a fused conv does to its output: ``y = act(y + z)`` (``z`` only if ``residual``).

    ``activation`` is an ONNX op name from :data:`ACTIVATIONS` or ``""`` for none.
    """

    activation: str = ""
    params: tuple[float, ...] = ()
    residual: bool = False

    def __post_init__(self):
        if self.activation and self.activation not in ACTIVATIONS:
            from ...errors import JiasuError

            raise JiasuError(
                f"unknown fused activation {self.activation!r}; supported: {', '.join(ACTIVATIONS)} (or '' for none)"
            )

    @property
    def is_identity(self) -> bool:
        return not self.activation and not self.residual

    def as_clamp(self) -> tuple[float, float, Optional["Epilogue"]]:
        """The activation as a clamp ``(lo, hi)`` a C kernel's store applies (ReLU is ``(0, inf)``, Clip its bounds),
        and the activation left to apply after it (None for those two; the others get ``(-inf, inf)``).

        The residual is not part of either: a kernel that fuses it takes ``z`` itself.
        """
        if self.activation == "Relu":
            return 0.0, math.inf, None
        if self.activation == "Clip":
            return float(self.params[0]), float(self.params[1]), None
        return -math.inf, math.inf, Epilogue(self.activation, self.params) if self.activation else None

    def apply(self, y: torch.Tensor, z: Optional[torch.Tensor]) -> torch.Tensor:
        """``act(y + z)``, in place on ``y`` (which the caller owns)."""
        if z is not None:
            y.add_(z)
        if self.activation:
            y = ACTIVATIONS[self.activation](y, self.params)
        return y


@dataclass(frozen=True)
class ConvSpec:
    """Static description of one convolution, in ONNX terms.

    ``kernel``, ``stride`` and ``dilation`` have one entry per spatial dim;
    ``pads`` follows ONNX order ``(x1_begin, x2_begin, ..., x1_end, x2_end, ...)``
    and may be asymmetric. ``in_channels`` is the full input channel count
    (weight shape is ``(out_channels, in_channels // groups, *kernel)``).
    """

    in_channels: int
    out_channels: int
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pads: tuple[int, ...]
    groups: int = 1
    #: element type of weight and input, when known at load time (None: unknown).
    dtype: Optional[torch.dtype] = None

    @property
    def ndim(self) -> int:
        return len(self.kernel)

    @property
    def symmetric_pads(self) -> Optional[tuple[int, ...]]:
        """Per-dim padding if begin == end on every dim, else None."""
        n = self.ndim
        begin, end = self.pads[:n], self.pads[n:]
        return tuple(begin) if tuple(begin) == tuple(end) else None

    @classmethod
    def from_weight(cls, weight: torch.Tensor, *, stride=None, dilation=None, pads=None, groups: int = 1) -> "ConvSpec":
        """Build a spec from a weight tensor and ONNX-style attributes (defaults: 1, 1, 0)."""
        kernel = tuple(int(k) for k in weight.shape[2:])
        n = len(kernel)
        return cls(
            in_channels=int(weight.shape[1]) * groups,
            out_channels=int(weight.shape[0]),
            kernel=kernel,
            stride=tuple(stride) if stride is not None else (1,) * n,
            dilation=tuple(dilation) if dilation is not None else (1,) * n,
            pads=tuple(pads) if pads is not None else (0,) * (2 * n),
            groups=groups,
            dtype=weight.dtype,
        )


def clamp_of(epilogue: Optional[Epilogue]) -> tuple[float, float, Optional[Epilogue]]:
    """:meth:`Epilogue.as_clamp` of an optional epilogue: no epilogue is no clamp, ``(-inf, inf, None)``."""
    return epilogue.as_clamp() if epilogue is not None else (-math.inf, math.inf, None)


def pad_input(x: torch.Tensor, spec: ConvSpec) -> torch.Tensor:
    """Zero-pad ``x`` by ``spec.pads`` explicitly (for algorithms that need it)."""
    n = spec.ndim
    if not any(spec.pads):
        return x
    # F.pad takes pads last dim first: (xn_begin, xn_end, ..., x1_begin, x1_end).
    torch_pads: list[int] = []
    for d in reversed(range(n)):
        torch_pads += [spec.pads[d], spec.pads[d + n]]
    return torch.nn.functional.pad(x, torch_pads)


def conv2d_fused(weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec, epilogue: Optional[Epilogue]) -> FusedConvFn:
    """``F.conv2d`` on the explicitly padded input, then the epilogue: the C conv algorithms' path where their C
    kernels do not run (no compiler, another dtype or device). Unlike ``direct`` it keeps the input's layout, so
    a channels_last input gives a channels_last output, as the C kernels write."""

    def run(x: torch.Tensor, z: Optional[torch.Tensor] = None) -> torch.Tensor:
        y = F.conv2d(pad_input(x, spec), weight, bias, spec.stride, 0, spec.dilation, spec.groups)
        return epilogue.apply(y, z) if epilogue is not None else y

    return run


def nhwc_operands(
    algorithm: str, x: torch.Tensor, z: Optional[torch.Tensor], c_in: int, out_shape: tuple[int, int, int, int], keep_nchw: bool = False
) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """``x`` and the residual ``z`` as float32 tensors whose memory is a contiguous NHWC array, for a C loop that
    reads them through ``data_ptr()``, after checking their shapes.

    A tensor already channels_last and float32 (every conv output of the engine's default plan) is returned
    as it is, without the permuted view that cost 1 us a call; another is copied. A C loop indexes its input
    by the weight's channel count and the residual by the output's shape, so a mismatch would read past them:
    it is a ``ValueError`` naming ``algorithm``, as ``conv2d``'s would be. ``out_shape`` is the output's NCHW
    shape. ``keep_nchw``: the loop reads ``x`` as it is, a contiguous NCHW float32 tensor (the caller has
    checked that it is), so it is returned unchanged.
    """
    if x.shape[1] != c_in:
        raise ValueError(f"{algorithm}: the input has {x.shape[1]} channels, the weight expects {c_in}")
    xh = x if keep_nchw else _nhwc(x)
    if z is None:
        return xh, None
    if tuple(z.shape) != tuple(out_shape):
        raise ValueError(f"{algorithm}: the residual has shape {tuple(z.shape)}, the output {tuple(out_shape)}")
    return xh, _nhwc(z)


def is_nhwc(t: Optional[torch.Tensor]) -> bool:
    """Whether a C loop reads ``t`` as it is (:func:`nhwc_operands` makes no copy): a 4-D float32 CPU tensor whose
    memory is a contiguous NHWC array."""
    return (
        t is not None and t.dim() == 4 and t.dtype == torch.float32 and t.device.type == "cpu"
        and t.is_contiguous(memory_format=torch.channels_last)
    )


def _nhwc(t: torch.Tensor) -> torch.Tensor:
    if t.dtype == torch.float32 and t.is_contiguous(memory_format=torch.channels_last):
        return t
    return t.float().contiguous(memory_format=torch.channels_last)


def nhwc_output(like: torch.Tensor, shape: tuple[int, int, int, int]) -> torch.Tensor:
    """An uninitialised float32 output of NCHW ``shape``, channels_last in memory (what the C loops write), on ``like``'s device."""
    return torch.empty(shape, dtype=torch.float32, device=like.device, memory_format=torch.channels_last)


def native_conv(
    algorithm: str,
    lib,
    function: str,
    c_in: int,
    prepare: Callable[[torch.Size, bool, int], tuple],
    after: Optional[Epilogue],
    fallback: Callable[[], FusedConvFn],
    reads_nchw: Callable[[torch.Tensor], bool] = lambda x: False,
) -> FusedConvFn:
    """The ``(x, z) -> y`` of an algorithm whose work is one C call, ``lib.<function>(x, z, y, *fixed)``.

    ``prepare(shape, nchw, threads)`` gives the output's NCHW shape and the fixed arguments (numbers and
    pointers) for an input of ``shape``, once per shape and thread count; ``reads_nchw(x)`` says whether
    the C loop reads ``x`` as it is, NCHW (a first layer), rather than channels_last. The output is
    channels_last float32; ``after`` (an activation the C store cannot fuse) runs on it. CPU float32
    inputs only: anything else runs ``fallback()``. The callable's ``native_call(x, z)`` describes the same
    call for a chain (``jiasu.runtime.chain``), where the run is that call alone (no copy of ``x`` or ``z``
    to channels_last, no ``after``). A C call that returns non-zero (it could not allocate its buffers)
    raises ``MemoryError``.
    """
    from ..native import fixed_arguments
    from ..native.call import In, NativeCall, Out

    run_c = getattr(lib, function)
    calls: dict[tuple, tuple] = {}  # (input shape, nchw, threads) -> output shape, fixed arguments
    slow: Optional[FusedConvFn] = None

    def call_for(x: torch.Tensor) -> tuple[bool, tuple]:
        nchw = reads_nchw(x)
        key = (x.shape, nchw, torch.get_num_threads())
        call = calls.get(key)
        if call is None:
            out_shape, values = prepare(*key)
            call = calls[key] = (out_shape, fixed_arguments(run_c, values, 3))
        return nchw, call

    def run(x: torch.Tensor, z: Optional[torch.Tensor] = None) -> torch.Tensor:
        nonlocal slow
        if x.dtype != torch.float32 or x.device.type != "cpu":
            slow = slow or fallback()
            return slow(x, z)
        nchw, (out_shape, fixed) = call_for(x)
        xh, zh = nhwc_operands(algorithm, x, z, c_in, out_shape, keep_nchw=nchw)
        y = nhwc_output(xh, out_shape)
        if run_c(xh.data_ptr(), zh.data_ptr() if zh is not None else None, y.data_ptr(), *fixed) != 0:
            raise MemoryError(f"{algorithm}: the C kernel could not allocate its buffers")
        return after.apply(y, None) if after is not None else y

    def native_call(x: torch.Tensor, z: Optional[torch.Tensor] = None):
        """``run``'s C call on ``x`` and ``z`` (inputs 0 and 1), where it makes nothing else (see Kernel.native_call)."""
        if after is not None or x.dim() != 4 or x.dtype != torch.float32 or x.device.type != "cpu" or x.shape[1] != c_in:
            return None
        nchw, (out_shape, fixed) = call_for(x)
        if not nchw and not is_nhwc(x):
            return None
        if z is not None and (not is_nhwc(z) or tuple(z.shape) != out_shape):
            return None
        return NativeCall.of(lib, function, (In(0), In(1) if z is not None else None, Out(0), *fixed))

    run.native_call = native_call
    return run


def output_size(in_size: int, k: int, stride: int, dilation: int, pad_total: int) -> int:
    """ONNX/PyTorch output length of one spatial dim."""
    return (in_size + pad_total - dilation * (k - 1) - 1) // stride + 1


class ConvAlgorithm:
    """Base class. Subclasses set ``name`` and ``description`` and implement both methods."""

    name: str = ""
    description: str = ""
    #: bumped when a change makes the algorithm faster or slower: the tuning cache keys on it,
    #: so timings measured on the old code are not reused (see plan/tune.py).
    revision: int = 1

    def check(self, spec: ConvSpec) -> Optional[str]:
        """``None`` if this algorithm can compute ``spec``, else why not (one short phrase)."""
        raise NotImplementedError

    def prepare(self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec) -> ConvFn:
        """Transform weights once; return ``x -> conv(x)``. Only called when ``check`` passed."""
        raise NotImplementedError

    def prepare_fused(
        self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec, epilogue: Optional[Epilogue]
    ) -> FusedConvFn:
        """Like :meth:`prepare`, with the epilogue: return ``(x, z) -> act(conv(x) + z)``."""
        fn = self.prepare(weight, bias, spec)
        if epilogue is None or epilogue.is_identity:
            return lambda x, z=None: fn(x)
        return lambda x, z=None: epilogue.apply(fn(x), z)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class FusingConvAlgorithm(ConvAlgorithm):
    """An algorithm whose kernel applies the epilogue itself (oneDNN post-ops, one matmul with its bias).

    Subclasses implement :meth:`prepare_fused`; the unfused :meth:`prepare` is that with no epilogue.
    """

    def prepare(self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec) -> ConvFn:
        fn = self.prepare_fused(weight, bias, spec, None)
        return lambda x: fn(x, None)

    def prepare_fused(
        self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec, epilogue: Optional[Epilogue]
    ) -> FusedConvFn:
        raise NotImplementedError


def format_dims(values) -> str:
    """``(2, 3)`` -> ``"2x3"``: how per-dim attributes read in ``check`` reasons."""
    return "x".join(str(v) for v in values)


def check_2d(spec: ConvSpec) -> Optional[str]:
    """The shared ``check`` reason of 2-D-only algorithms: ``None`` for a 2-D spec."""
    return None if spec.ndim == 2 else f"{spec.ndim}-D convolution, not 2-D"
