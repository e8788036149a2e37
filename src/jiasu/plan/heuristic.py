"""The planner's default without measurement: one rule per device, from what was measured here.

On the CPU, oneDNN with prepacked weights and channels_last activations was
about 2x faster than ``F.conv2d`` on NCHW tensors for every resnet18 layer
(64-channel 56x56 3x3 at batch 8: 8.9 ms vs 18.9 ms, 2 threads), so it is the
default wherever it applies, tiny maps included. There torch's oneDNN call costs
more than its arithmetic (about 20-25 us per call outside the kernel here), and
``gemm`` (one matmul, no oneDNN call) ran the tiny-map convs of resnet18 at 28x28
faster one at a time (the 1x1 downsamples 13-17 vs 28-34 us, the 3x3 convs on
1x1 and 2x2 maps 29-49 vs 50-62 us, batch 1, 1 thread); but in the whole model,
timed in one process against all-oneDNN, it gained at most 4% at 1 thread and lost
5-10% at 2 threads, batch 1 (MKL's matmul does not split these across the threads,
and the oneDNN conv after each one started slower). So no size rule here:
tuning measures ``gemm`` per node and keeps it only if the whole model is faster.
Winograd wins only on some shapes and batch sizes
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
