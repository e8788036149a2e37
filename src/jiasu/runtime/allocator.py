"""Keep freed memory in the process: glibc's malloc set up the way an inference arena behaves.

Torch allocates CPU tensors with glibc's malloc. By default glibc hands the top of
its heap back to the OS as soon as a little of it is free, and serves blocks above
its mmap threshold (128 KiB, rising to at most 32 MiB) with ``mmap``, unmapped on
every ``free``. A model whose tensors are allocated and freed on every run then
page-faults them in again on every call. Measured here (2 threads, ms per image):

    vgg16, batch 8, tuned plan (Winograd on 9 convs)    116.3 -> 91.5
    vgg16, batch 8, default plan (oneDNN)                146.5 -> 136.1
    vgg16, batch 1, tuned plan                           127.9 -> 110.7
    resnet18's 64-channel 3x3 conv, Winograd, batch 1      2.7 -> 0.9 (ms per call)
    smallcnn, resnet18, mobilenet_v2, googlenet (default plan, batch 1): unchanged

ONNX Runtime and OpenVINO keep their own arenas; this is ours. What
:func:`keep_freed_memory` sets, with ``mallopt``: ``M_MMAP_THRESHOLD`` 256 MiB (blocks up
to that come from the heap and are reused; vgg16's largest activation at batch 8 is
103 MB), ``M_TRIM_THRESHOLD`` 512 MiB (the heap is given back only above that much free
at its top) and ``M_TOP_PAD`` 64 MiB. It is process-wide and lasts: the process keeps
memory it has freed, as it would in an arena. The engine calls it
when built unless its ``keep_freed_memory`` option is off, or the environment sets
``JIASU_KEEP_FREED_MEMORY=0`` (which turns it off for the whole process, benchmark
workers included). On anything but glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import threading

# mallopt parameters, from glibc's malloc.h
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
SETTINGS = {_M_MMAP_THRESHOLD: 256 << 20, _M_TRIM_THRESHOLD: 512 << 20, _M_TOP_PAD: 64 << 20}

_lock = threading.Lock()
_state: dict[str, object] = {"kept": False, "reason": "not requested"}


def keep_freed_memory() -> bool:
    """Set glibc's malloc to keep freed memory (see the module docstring); True once it is set.

    Idempotent and thread-safe; False, with the reason in :func:`state`, where there is no glibc.
    """
    with _lock:
        if _state["kept"]:
            return True
        if os.environ.get("JIASU_KEEP_FREED_MEMORY", "1").strip() == "0":
            _state["reason"] = "turned off by JIASU_KEEP_FREED_MEMORY=0"
            return False
        if not sys.platform.startswith("linux"):
            _state["reason"] = f"not glibc ({sys.platform})"
            return False
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):  # musl and others have no mallopt
            _state["reason"] = "this C library has no mallopt (not glibc)"
            return False
        mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        if not all(mallopt(param, value) == 1 for param, value in SETTINGS.items()):
            _state["reason"] = "mallopt refused a setting"
            return False
        _state.update(kept=True, reason="")
        return True


def state() -> dict[str, object]:
    """``{"kept": bool, "reason": why not, or ""}``, for benchmark records."""
    with _lock:
        return dict(_state)
