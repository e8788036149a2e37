""""Why isn't INT8 faster?": the CPU's int8 instructions, what is still float, and what Q/DQ costs.

Three measurements, each a plain function (the CLI's ``jiasu quantize MODEL --diagnose`` prints them):

- :func:`cpu_features`: the instruction-set extensions that decide int8 speed, read from
  ``/proc/cpuinfo`` (x86: AVX2, AVX-512, AVX-512 VNNI / AVX-VNNI dot products, AVX-512 BF16, AMX;
  Arm: NEON and its dot-product extension). Without VNNI or AMX an int8 dot product takes three
  instructions instead of one, and int8 is often no faster than FP32.
- :func:`float_nodes`: which compute nodes of a QDQ (or lowered) model still run in float: a node
  counts as int8 when every non-constant input is dequantized int8 and it has no float weight (or it is one of jiasu's int8
  kernels), or when it is a ReLU between such a node and a QuantizeLinear (fused by every backend).
- :func:`qdq_overhead`: time per QuantizeLinear / DequantizeLinear node on our engine, and their
  share of the run. Many float islands mean many Q/DQ pairs, each a full pass over a tensor.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping

import onnx_ir as ir

from ...cpuinfo import first_processor

#: cpuinfo flag -> what it means for quantized inference
X86_FLAGS: dict[str, str] = {
    "avx2": "AVX2 (int8 via vpmaddubsw: 3 instructions per 4-byte dot product)",
    "avx512f": "AVX-512 foundation",
    "avx512bw": "AVX-512 byte/word ops",
    "avx512_vnni": "AVX-512 VNNI (vpdpbusd: u8 x s8 dot product in one instruction)",
    "avx_vnni": "AVX-VNNI (VNNI on 256-bit registers)",
    "avx512_bf16": "AVX-512 BF16 (bf16 dot products)",
    "amx_tile": "AMX tiles",
    "amx_int8": "AMX INT8 (tile matrix multiply)",
    "amx_bf16": "AMX BF16",
}
ARM_FLAGS: dict[str, str] = {"asimd": "NEON (Advanced SIMD)", "asimddp": "NEON dot product (sdot/udot)", "i8mm": "Int8 matrix multiply (smmla)"}


@dataclass
class CpuFeatures:
    model: str
    flags: dict[str, bool]

    @property
    def int8_dot_product(self) -> bool:
        return any(self.flags.get(f, False) for f in ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm"))

    def advice(self) -> list[str]:
        out = []
        if not self.int8_dot_product:
            out.append("no int8 dot-product instruction (VNNI, AMX, NEON dotprod): expect INT8 to gain little over FP32 on this CPU")
        if self.flags.get("avx2") and not self.int8_dot_product:
            out.append("u8 x s8 products saturate in int16 here (vpmaddubsw) with 8-bit weights: weights are quantized to 7 bits (reduce_range)")
        if self.flags.get("avx512_vnni") and not self.flags.get("amx_int8"):
            out.append("VNNI without AMX: int8 GEMMs run about 4x the FP32 rate in theory; use uint8 activations (vpdpbusd is u8 x s8)")
        if self.flags.get("amx_int8"):
            out.append("AMX INT8 present: oneDNN-backed runtimes (OpenVINO, torch onednn engine) gain most from INT8")
        return out


def cpu_features(cpuinfo: str | os.PathLike = "/proc/cpuinfo") -> CpuFeatures:
    """The int8-relevant flags of the first CPU listed in ``cpuinfo`` (every flag present is True)."""
    info = first_processor(cpuinfo)
    if not info:
        return CpuFeatures("unknown (no /proc/cpuinfo)", {})
    flags = set((info.get("flags") or info.get("Features") or "").split())
    model = info.get("model name") or info.get("CPU part") or "unknown"
    known = X86_FLAGS if "avx2" in flags or "sse2" in flags or "flags" in info else ARM_FLAGS
    return CpuFeatures(model, {f: f in flags for f in known})


def int8_products_saturate(features: CpuFeatures | None = None) -> bool:
    """Whether u8 x s8 products may saturate on this CPU: x86 without VNNI or AMX.

    There ONNX Runtime's and fbgemm's int8 GEMMs multiply with ``vpmaddubsw``, which adds two u8 x s8
    products into an int16 and clips it: exact only for weights within +-64 (2 x 255 x 64 = 32640 fits).
    Measured on an AVX2-only AMD EPYC (Zen 3): QLinearConv with weights in -127..127 came out up to 25 steps
    off in both, and exact with weights in -64..64. Quantizing weights to 7 bits (``reduce_range``) avoids it.
    """
    features = features or cpu_features()
    return bool(features.flags.get("avx2")) and not features.int8_dot_product


_MOVES = {"Relu", "Clip", "MaxPool", "Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose"}
_META = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "Constant", "Identity", "Shape", "Cast"}


@dataclass
class FloatReport:
    int8: list[str] = field(default_factory=list)
    float: list[str] = field(default_factory=list)
    qdq: int = 0

    def as_dict(self) -> dict:
        return {"int8_nodes": len(self.int8), "float_nodes": len(self.float), "float": self.float, "qdq_nodes": self.qdq}


def _from_dq(v: ir.Value | None) -> bool:
    p = v.producer() if v is not None else None
    return p is not None and p.op_type == "DequantizeLinear"


def float_nodes(model: ir.Model) -> FloatReport:
    """Which compute nodes run in int8 and which in float (see the module docstring)."""
    rep = FloatReport()
    int8: set[str] = set()
    for node in model.graph:
        if node.op_type in _META and node.domain == "":
            rep.qdq += node.op_type in ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear")
            continue
        acts = [v for v in node.inputs if v is not None and v.const_value is None and not (v.producer() and v.producer().op_type == "Constant")]
        quant = node.domain == "jiasu" and node.op_type.startswith("Q")
        quant = quant or node.op_type in ("QLinearConv", "QLinearMatMul", "MatMulInteger", "ConvInteger")
        # float weights (constant, at least 2-D) mean float arithmetic even behind dequantized activations
        float_weights = any(
            v is not None and v.const_value is not None and v.dtype == ir.DataType.FLOAT and len(v.const_value.shape) >= 2 for v in node.inputs
        )
        quant = quant or (bool(acts) and all(_from_dq(v) for v in acts) and not float_weights)
        if not quant and node.op_type in _MOVES and acts:
            # a ReLU / pool between an int8 node and a Q runs fused with them
            p = acts[0].producer()
            readers = [u.node.op_type for u in node.outputs[0].uses()]
            quant = p is not None and p.name in int8 and bool(readers) and all(r == "QuantizeLinear" for r in readers)
        (rep.int8 if quant else rep.float).append(node.name)
        if quant:
            int8.add(node.name)
    return rep


def qdq_overhead(engine: Any, feeds: Mapping[str, Any], repeats: int = 3) -> dict:
    """Per-node time of the Q/DQ nodes on ``engine`` (a jiasu Engine), and their share of the whole run.

    Runs the engine's steps one by one with a timer around each (so the total is slightly above a
    normal run's); times are the mean over ``repeats`` runs, in milliseconds.
    """
    import torch

    checked = engine._check_feeds(feeds)
    per_node: dict[str, float] = defaultdict(float)
    ops: dict[str, str] = {}
    total = 0.0
    for _ in range(repeats):
        values = dict(engine._constants)
        for v, s in zip(engine.model.graph.inputs, engine._input_slots):
            if v.name in checked:
                values[s] = checked[v.name]
        with torch.inference_mode():
            for step in engine.steps:
                t = time.perf_counter()
                out = step.kernel.run(*[values.get(s) if s is not None else None for s in step.inputs])
                dt = time.perf_counter() - t
                node = step.kernel.node
                total += dt
                per_node[node.name] += dt
                ops[node.name] = node.op_type
                for s, o in zip(step.outputs, out):
                    values[s] = o
    qdq = {n: t / repeats * 1e3 for n, t in per_node.items() if ops[n] in ("QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear")}
    total_ms = total / repeats * 1e3
    return {
        "total_ms": total_ms,
        "qdq_ms": sum(qdq.values()),
        "qdq_share": sum(qdq.values()) / total_ms if total_ms else 0.0,
        "per_node_ms": dict(sorted(qdq.items(), key=lambda kv: -kv[1])),
    }
