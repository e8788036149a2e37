"""The planner's default without measurement: one rule per device, from what was measured here.

On the CPU, oneDNN with prepacked weights and channels_last activations was
about 2x faster than ``F.conv2d`` on NCHW tensors for every resnet18 layer
(64-channel 56x56 3x3 at batch 8: 8.9 ms vs 18.9 ms, 2 threads), so it is the
default wherever it applies. Winograd wins only on some shapes and batch sizes
(see ``benchmarks/RESULTS.md``), which is what tuning (``jiasu.plan.tune``) is
for; a heuristic that guessed it would be wrong as often as right. Elsewhere
(CUDA, 3-D, dtypes oneDNN lacks) ``direct``: the vendor library.
"""

from __future__ import annotations

from typing import Optional

import torch

from ..kernels.conv import ConvSpec, get_algorithm


def choose_algorithm(spec: Optional[ConvSpec], device: torch.device | str) -> str:
    """The algorithm a node gets without tuning (``spec`` None: shape unknown at load time)."""
    if spec is not None and torch.device(device).type == "cpu" and get_algorithm("onednn").check(spec) is None:
        return "onednn"
    return "direct"
