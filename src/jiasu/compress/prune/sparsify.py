"""Hand a pruned ONNX model's sparse layers to jiasu's sparse kernels, and count what they store.

:func:`sparsify` rewrites, in place, every ``Gemm`` whose constant B has at
least ``min_sparsity`` zeros into ``jiasu::SparseGemm``, and lists every
groups-1 float32 ``Conv`` (or ``jiasu::FusedConv``) whose constant weight is
that sparse in ``conv_algorithms`` (``{node: "sparse"}``, the engine option);
a layer whose CSR form would not be smaller than its dense one is left alone.
Both kernels still time sparse against dense at each input shape and keep the
faster, so a layer only runs sparse where that pays. The report gives, per
layer, the non-zero count and the bytes of the dense and the CSR storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx_ir as ir

from ...errors import JiasuError

JIASU_DOMAIN = "jiasu"


@dataclass(frozen=True)
class SparseLayer:
    node: str
    op_type: str
    shape: tuple[int, ...]
    nonzero: int
    dense_bytes: int
    csr_bytes: int

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nonzero / int(np.prod(self.shape))


@dataclass
class SparsePlan:
    """What :func:`sparsify` did: conv nodes for the engine's ``conv_algorithms``, and every sparse layer."""

    conv_algorithms: dict[str, str] = field(default_factory=dict)
    layers: list[SparseLayer] = field(default_factory=list)

    @property
    def dense_bytes(self) -> int:
        return sum(layer.dense_bytes for layer in self.layers)

    @property
    def csr_bytes(self) -> int:
        return sum(layer.csr_bytes for layer in self.layers)


def _const(value) -> np.ndarray | None:
    if value is None or value.const_value is None or value.is_graph_input():
        return None
    return value.const_value.numpy()


def csr_size(matrix: np.ndarray) -> int:
    """Bytes of ``matrix`` (2-D, float32) in CSR with int32 indices: values, column indices, row pointers."""
    nnz = int(np.count_nonzero(matrix))
    return 4 * nnz + 4 * nnz + 4 * (matrix.shape[0] + 1)


def sparsify(model: ir.Model, min_sparsity: float = 0.5) -> SparsePlan:
    """Rewrite/list the sparse layers of ``model`` as the module docstring says; returns the plan."""
    if not 0.0 < min_sparsity < 1.0:
        raise JiasuError(f"min_sparsity must be in (0, 1), got {min_sparsity}")
    plan = SparsePlan()
    for node in model.graph:
        is_conv = node.op_type == "Conv" and node.domain == "" or node.op_type == "FusedConv" and node.domain == JIASU_DOMAIN
        is_gemm = node.op_type == "Gemm" and node.domain == ""
        if not (is_conv or is_gemm) or len(node.inputs) < 2:
            continue
        w = _const(node.inputs[1])
        if w is None or w.dtype != np.float32 or w.size == 0:
            continue
        if is_conv:
            group = node.attributes.get("group")
            if (group.value if group is not None else 1) != 1 or w.ndim != 4:
                continue
        nonzero = int(np.count_nonzero(w))
        if 1.0 - nonzero / w.size < min_sparsity:
            continue
        matrix = w.reshape(w.shape[0], -1)
        if is_gemm:
            trans_b = node.attributes.get("transB")
            if not (trans_b is not None and trans_b.value):
                matrix = matrix.T  # CSR holds B' transposed: (N, K)
        if csr_size(matrix) >= w.nbytes:
            continue  # near 50% zeros CSR (8 bytes per non-zero) stores more than dense, and never ran faster
        if is_gemm:
            node.op_type, node.domain = "SparseGemm", JIASU_DOMAIN
            model.opset_imports.setdefault(JIASU_DOMAIN, 1)
        else:
            plan.conv_algorithms[node.name] = "sparse"
        plan.layers.append(SparseLayer(node.name, "Gemm" if is_gemm else "Conv", tuple(w.shape), nonzero, w.nbytes, csr_size(matrix)))
    return plan
