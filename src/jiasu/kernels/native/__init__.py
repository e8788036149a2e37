"""Hand-written C kernels, compiled for this machine on first use and loaded with ctypes.

Why C: some of our algorithms are a chain of small memory-bound steps that torch
runs as one op each, a pass over memory and a few microseconds of dispatch per op.
Winograd's tile transforms were the case that forced this. On smallcnn's 6x6
conv at batch 1 (16 -> 48 channels, 41x41), the transforms as torch matmuls over
strided views took about 300 us (gather 20, input 88, output 183, scatter 11),
against oneDNN's 340 us for the whole convolution. Written as one loop over tiles
with channels in 16-wide vectors they take 36 + 45 us, and resnet18's
64-channel layer at batch 8 went from 9.84 ms (torch transforms) to 4.77 ms,
against oneDNN's 8.2 (``benchmarks/RESULTS.md``).

How:

- each ``<name>.c`` in this folder is compiled with ``$CC`` (default ``cc``),
  ``-O3 -march=native -fopenmp -fPIC -shared``, into
  ``$JIASU_CACHE_DIR`` (default ``~/.cache/jiasu``) ``/native/<name>-<digest>.so``.
  The digest covers the source and the shared headers (``*.h``), the flags, the compiler's version line and
  this CPU (model and flags), so an edited source, another compiler or
  another machine gets its own build. The build is written under a temporary
  name and renamed, so concurrent processes never load half a file. The
  first use costs about a second;
- ``-fopenmp`` links ``libgomp.so.1`` by soname, which resolves to the copy torch
  has already loaded: one OpenMP runtime and one thread team in the process,
  not two teams spinning on the same cores;
- ``JIASU_NATIVE_CFLAGS`` adds flags to the build (space-separated; part of the digest), for experiments
  such as ``-DJIASU_REGISTERS=32`` (the register blocking of ``vec.h``) or ``-march=x86-64-v3``;
- ``JIASU_NATIVE=0`` turns every native kernel off. Where no compiler works,
  :func:`library` raises :class:`NativeUnavailable` with the reason;
  callers fall back to their torch path and say so
  (see :func:`status`).

Contracts are per function, in the C source: float32, contiguous, channels_last
where a tensor is an image; the Python wrapper next to each caller checks them.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any, Optional

import torch  # noqa: F401  (loaded first, so that our -fopenmp libraries bind to torch's libgomp)

from ...cpuinfo import first_processor
from ...errors import JiasuError

ENV = "JIASU_NATIVE"
#: Packed weights and padded biases keep output channels in runs of this many (``CPAD`` in ``vec.h``),
#: whatever the vector width the kernels were built with.
CPAD = 16


def padded_channels(channels: int) -> int:
    """``channels`` rounded up to whole runs of :data:`CPAD`: the channel stride of the C kernels' packed layouts."""
    return -(-channels // CPAD) * CPAD

FLAGS = ["-O3", "-march=native", "-fopenmp", "-fPIC", "-shared"]
_SOURCES = Path(__file__).parent

_lock = threading.Lock()
_loaded: dict[str, ctypes.CDLL] = {}
_failed: dict[str, str] = {}


class NativeUnavailable(JiasuError):
    """A native kernel library cannot be built or loaded here (the message says why)."""


def _compiler() -> str:
    cc = os.environ.get("CC") or "cc"
    path = shutil.which(cc)
    if path is None:
        raise NativeUnavailable(
            f"no C compiler: {cc!r} is not on PATH (set CC, or install gcc: apt-get install gcc); "
            "jiasu's native kernels are off and their torch fallbacks run instead"
        )
    return path


def _cpu() -> str:
    """What of this CPU the build's digest covers: its model and flags (``-march=native`` compiles for them)."""
    info = first_processor()
    return "\n".join(f"{key}: {info[key]}" for key in ("model name", "flags", "Features") if key in info) or platform.machine()


def _flags() -> list[str]:
    return FLAGS + os.environ.get("JIASU_NATIVE_CFLAGS", "").split()


def _digest(source: bytes, cc: str) -> str:
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout.splitlines()[:1]
    except (OSError, subprocess.SubprocessError) as exc:
        raise NativeUnavailable(f"the C compiler {cc!r} does not run: {exc}") from None
    h = hashlib.sha256(source)
    for part in (" ".join(_flags()), "\n".join(version), _cpu(), platform.machine()):
        h.update(b"\0" + part.encode())
    return h.hexdigest()[:16]


def _build(name: str) -> Path:
    from ...analysis.roofline import cache_dir

    src = _SOURCES / f"{name}.c"
    if not src.is_file():
        raise JiasuError(f"no native source {src}; available: {', '.join(sorted(p.stem for p in _SOURCES.glob('*.c')))}")
    cc = _compiler()
    # The shared headers (*.h) are part of every build: an edited header rebuilds all.
    source = src.read_bytes() + b"".join(h.read_bytes() for h in sorted(_SOURCES.glob("*.h")))
    out_dir = cache_dir() / "native"
    target = out_dir / f"{name}-{_digest(source, cc)}.so"
    if target.is_file():
        return target
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}-", suffix=".so", dir=out_dir)
    os.close(fd)
    try:
        done = subprocess.run([cc, *_flags(), f"-I{_SOURCES}", "-o", tmp, str(src)], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise NativeUnavailable(f"compiling {src.name} with {cc} failed:\n{done.stderr.strip()[-2000:]}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def library(name: str) -> ctypes.CDLL:
    """The compiled ``<name>.c``, built on first use and cached on disk and in the process.

    Raises :class:`NativeUnavailable` (with the reason, remembered for the process)
    where native kernels are off or cannot be built.
    """
    with _lock:
        if name in _loaded:
            return _loaded[name]
        if os.environ.get(ENV, "1").strip() == "0":
            raise NativeUnavailable(f"native kernels are turned off ({ENV}=0)")
        if name in _failed:
            raise NativeUnavailable(_failed[name])
        try:
            lib = ctypes.CDLL(str(_build(name)))
        except NativeUnavailable as exc:
            _failed[name] = str(exc)
            raise
        except OSError as exc:
            _failed[name] = f"loading the compiled {name}.c failed: {exc}"
            raise NativeUnavailable(_failed[name]) from None
        _loaded[name] = lib
        return lib


def typed(name: str, signatures: dict[str, tuple[list, Any]]) -> Optional[ctypes.CDLL]:
    """:func:`library` with each listed function's ctypes ``(argtypes, restype)`` set once, or None where it does not build.

    The caller's fallback runs on None (the reason is :func:`status`).
    """
    try:
        lib = library(name)
    except NativeUnavailable:
        return None
    if not getattr(lib, "_jiasu_typed", False):
        for function, (argtypes, restype) in signatures.items():
            getattr(lib, function).argtypes = argtypes
            getattr(lib, function).restype = restype
        lib._jiasu_typed = True
    return lib


def fixed_arguments(function, values: tuple, start: int) -> tuple:
    """``values`` as instances of ``function``'s ctypes argument types from position ``start`` on.

    For the arguments of a kernel call that stay the same from call to call (shapes, weights, the
    epilogue): built once per input shape, they are passed as they are, where plain Python numbers
    are converted on every call. Measured here: a 22-argument call 3.9 us with Python numbers,
    2.1 us with prebuilt ones; mobilenet_v2 makes 53 such calls a run.
    """
    return tuple(t(v) for t, v in zip(function.argtypes[start:], values, strict=True))


def status(name: str) -> str:
    """``""`` if ``library(name)`` loads, else why not (for reports and skipped tests)."""
    try:
        library(name)
    except NativeUnavailable as exc:
        return str(exc)
    return ""


__all__ = ["ENV", "NativeUnavailable", "fixed_arguments", "library", "status", "typed"]
