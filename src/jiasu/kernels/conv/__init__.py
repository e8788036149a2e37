"""Convolution algorithms, one per file, registered here and nowhere else.

To add one: write ``kernels/conv/<name>.py`` with a :class:`ConvAlgorithm`
subclass (see ``base.py`` for the contract), import it below and add it to
``_ALGORITHMS``; the conformance tests in ``tests/kernels/conv`` then cover it.
"""

from __future__ import annotations

from ...errors import AlgorithmError, format_choices
from .base import ConvAlgorithm, ConvFn, ConvSpec, Epilogue
from .depthwise import Depthwise
from .direct import Direct
from .fft import FFT
from .gemm import Gemm
from .im2col import Im2col
from .nhwc_direct import NHWCDirect
from .nhwc_gemm import NHWCGemm
from .onednn import OneDNN
from .pointwise import Pointwise
from .sparse import SparseCSR
from .winograd import WinogradF2, WinogradF4, WinogradF6, WinogradLarge

_ALGORITHMS: list[ConvAlgorithm] = [Direct(), OneDNN(), Im2col(), WinogradF4(), WinogradF6(), WinogradF2(), WinogradLarge(), FFT(), Depthwise(), SparseCSR(), Gemm(), NHWCDirect(), Pointwise(), NHWCGemm()]

CONV_ALGORITHMS: dict[str, ConvAlgorithm] = {a.name: a for a in _ALGORITHMS}


def get_algorithm(name: str) -> ConvAlgorithm:
    """The registered algorithm called ``name``; an error listing the others if none is."""
    try:
        return CONV_ALGORITHMS[name]
    except KeyError:
        raise AlgorithmError(
            f"unknown convolution algorithm {name!r}; available: {format_choices(CONV_ALGORITHMS)}. "
            "To add one, see jiasu/kernels/conv/__init__.py."
        ) from None


__all__ = ["CONV_ALGORITHMS", "ConvAlgorithm", "ConvFn", "ConvSpec", "Epilogue", "get_algorithm"]
