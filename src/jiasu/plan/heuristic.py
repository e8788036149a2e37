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

Winograd is the default where its C tile transforms run (``kernels/native``)
and the graph fixes the input's spatial size: ``winograd`` (F(4x4)) for 3x3
stride-1 convs with at least 16 input channels on inputs of 14x14 or more, and
``winograd_large`` for square 4x4..7x7 stride-1 kernels with at least 8 input
channels on inputs of 12x12 or more. Every such layer measured here beat oneDNN,
at batch 1 and 8 (1.07-2.9x, ``benchmarks/winograd_layers.py``); the ones that
lose are smaller maps with many channels (512 channels on 7x7: 0.43x at batch
1), where the GEMMs read ``U``, four times the weights, for little work. Whole
models, default plan before and after (ms per image, 2 threads, one process,
interleaved): resnet18 18.8 -> 15.8 at batch 1 and 16.7 -> 12.3 at batch 8,
googlenet 19.7 -> 17.1 and 16.7 -> 15.2, resnet50 44.3 -> 42.4 and 41.3 -> 36.3,
smallcnn 0.84 -> 0.68 and 0.60 -> 0.48. Which F(m) suits each layer best, and
whether the whole model agrees, is still for tuning (``jiasu.plan.tune``) to
measure. Elsewhere
(CUDA, 3-D, dtypes oneDNN lacks) ``direct``: the vendor library.
"""

from __future__ import annotations

from typing import Optional

import torch

from ..kernels.conv import ConvSpec, get_algorithm


#: Winograd by default only on maps and channel counts where every layer measured here won (see the docstring).
WINOGRAD_MIN_SIZE = {3: 14, 4: 12, 5: 12, 6: 12, 7: 12}
WINOGRAD_MIN_CHANNELS = {3: 16, 4: 8, 5: 8, 6: 8, 7: 8}


def choose_algorithm(spec: Optional[ConvSpec], device: torch.device | str, input_size: Optional[tuple[int, ...]] = None) -> str:
    """The algorithm a node gets without tuning (``spec`` None: shape unknown at load time).

    ``input_size``: the input's static spatial size, where the graph fixes it; Winograd
    is chosen only when it is known.
    """
    if spec is None or torch.device(device).type != "cpu":
        return "direct"
    winograd = _winograd(spec, input_size)
    if winograd is not None:
        return winograd
    if get_algorithm("onednn").check(spec) is None:
        return "onednn"
    return "direct"


def _winograd(spec: ConvSpec, input_size: Optional[tuple[int, ...]]) -> Optional[str]:
    if input_size is None or len(input_size) != 2 or spec.dtype not in (None, torch.float32):
        return None
    r = spec.kernel[0]
    name = "winograd" if r == 3 else "winograd_large"
    if r not in WINOGRAD_MIN_SIZE or get_algorithm(name).check(spec) is not None:
        return None
    if min(input_size) < WINOGRAD_MIN_SIZE[r] or spec.in_channels < WINOGRAD_MIN_CHANNELS[r]:
        return None
    from ..kernels.conv.winograd import native_available

    return name if native_available() else None
