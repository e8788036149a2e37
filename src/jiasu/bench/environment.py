"""The environment a benchmark ran in: CPU, ISA extensions, cores, memory, OS, library versions, load."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from typing import Any, Optional

from ..cpuinfo import first_processor
from .memory import meminfo_kb

# cpuinfo flag -> the name people use. x86 flags on "flags", ARM on "Features".
ISA_FLAGS = {
    "sse4_2": "SSE4.2",
    "avx": "AVX",
    "avx2": "AVX2",
    "fma": "FMA",
    "f16c": "F16C",
    "avx512f": "AVX-512F",
    "avx512bw": "AVX-512BW",
    "avx512vl": "AVX-512VL",
    "avx512_vnni": "AVX-512 VNNI",
    "avx_vnni": "AVX-VNNI",
    "avx512_bf16": "AVX-512 BF16",
    "avx512_fp16": "AVX-512 FP16",
    "amx_tile": "AMX",
    "amx_bf16": "AMX-BF16",
    "amx_int8": "AMX-INT8",
    "asimd": "NEON",
    "asimddp": "NEON dot product",
    "fphp": "FP16 arithmetic",
    "bf16": "BF16",
    "i8mm": "I8MM",
    "sve": "SVE",
    "sve2": "SVE2",
}

LIBRARIES = ("jiasu", "torch", "onnxruntime", "openvino", "numpy", "onnx", "onnx-ir")


def cpu() -> dict[str, Any]:
    info = first_processor()
    flags = set((info.get("flags") or info.get("Features") or "").split())
    model = info.get("model name") or info.get("Model") or platform.processor() or platform.machine()
    out = {
        "model": model,
        "vendor": info.get("vendor_id") or info.get("CPU implementer"),
        "isa": [name for flag, name in ISA_FLAGS.items() if flag in flags],
        "logical_cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "virtualized": "hypervisor" in flags,
    }
    if info.get("cpu family"):
        out["family_model_stepping"] = f"{info.get('cpu family')}/{info.get('model')}/{info.get('stepping')}"
    return out


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask), which containers often cut below cpu_count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def memory_gb() -> Optional[float]:
    kb = meminfo_kb("MemTotal")
    return None if kb is None else round(kb * 1024 / 1e9, 1)


def library_versions() -> dict[str, Optional[str]]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def fingerprint() -> dict[str, Any]:
    """Everything about this machine that a benchmark number depends on (and can be read cheaply)."""
    import torch

    env = {
        "cpu": cpu(),
        "memory_gb": memory_gb(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "libraries": library_versions(),
        "torch_parallel": {
            "num_threads": torch.get_num_threads(),
            "mkldnn": torch.backends.mkldnn.is_available(),
            "openmp": torch.backends.openmp.is_available(),
        },
    }
    try:
        env["load_average_1m"] = round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover - Windows
        env["load_average_1m"] = None
    return env
