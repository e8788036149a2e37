"""Kernels: one class per ONNX operator (``kernels/ops``) and the convolution algorithms (``kernels/conv``)."""

from __future__ import annotations

from ..errors import UnsupportedOpError, format_choices
from .base import BuildContext, Kernel
from .ops import KERNELS


def supported_ops(domain: str = "") -> list[str]:
    return sorted(op for d, op in KERNELS if d == domain)


def supported_ops_text() -> str:
    """The 'Supported ops' paragraph every unsupported-op error ends with: the list and how to add one."""
    ops = supported_ops("")
    return (
        f"Supported ops ({len(ops)}):\n  {format_choices(ops)}\n"
        "To add one, write jiasu/kernels/ops/<op>.py and list it in jiasu/kernels/ops/__init__.py."
    )


def get_kernel(domain: str, op_type: str, *, node_name: str = "", opset: int | None = None) -> type[Kernel]:
    """The kernel class for an op; an :class:`UnsupportedOpError` naming the op, node, opset and the supported list."""
    try:
        return KERNELS[(domain, op_type)]
    except KeyError:
        where = f" (node {node_name!r}" + (f", opset {opset}" if opset is not None else "") + ")"
        dom = f" in domain {domain!r}" if domain else ""
        raise UnsupportedOpError(
            f"unsupported operator {op_type}{dom}{where}: jiasu's engine has no kernel for it.\n{supported_ops_text()}"
        ) from None


__all__ = ["BuildContext", "KERNELS", "Kernel", "get_kernel", "supported_ops", "supported_ops_text"]
