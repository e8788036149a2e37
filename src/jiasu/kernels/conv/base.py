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
modify ``x``, and must work on any device the weight lives on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

ConvFn = Callable[[torch.Tensor], torch.Tensor]


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


def output_size(in_size: int, k: int, stride: int, dilation: int, pad_total: int) -> int:
    """ONNX/PyTorch output length of one spatial dim."""
    return (in_size + pad_total - dilation * (k - 1) - 1) // stride + 1


class ConvAlgorithm:
    """Base class. Subclasses set ``name`` and ``description`` and implement both methods."""

    name: str = ""
    description: str = ""

    def check(self, spec: ConvSpec) -> Optional[str]:
        """``None`` if this algorithm can compute ``spec``, else why not (one short phrase)."""
        raise NotImplementedError

    def prepare(self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec) -> ConvFn:
        """Transform weights once; return ``x -> conv(x)``. Only called when ``check`` passed."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def format_dims(values) -> str:
    """``(2, 3)`` -> ``"2x3"``: how per-dim attributes read in ``check`` reasons."""
    return "x".join(str(v) for v in values)


def check_2d(spec: ConvSpec) -> Optional[str]:
    """The shared ``check`` reason of 2-D-only algorithms: ``None`` for a 2-D spec."""
    return None if spec.ndim == 2 else f"{spec.ndim}-D convolution, not 2-D"
