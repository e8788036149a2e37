"""Our engine: executes onnx-ir graphs with jiasu's kernels on torch tensors (CPU or CUDA)."""

from .engine import Engine, NodeChoice
from .options import EngineOptions

__all__ = ["Engine", "EngineOptions", "NodeChoice"]
