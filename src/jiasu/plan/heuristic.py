"""The planner's default without measurement: one rule per device, from what was measured here.

On the CPU, oneDNN with prepacked weights and channels_last activations was
about 2x faster than ``F.conv2d`` on NCHW tensors for every resnet18 layer
(64-channel 56x56 3x3 at batch 8: 8.9 ms vs 18.9 ms, 2 threads), so it was the
default wherever it applies, tiny maps included, until jiasu's own C kernels took
the layers below over one kind at a time (the last, ``nhwc_gemm``, at the end). There torch's oneDNN call costs
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
stride-1 convs with at least 16 input channels on inputs of 14x14 or more (``winograd_f2`` where a call has
few tiles, below), and
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
measure.

Below 14x14 a 3x3 Winograd layer pays for reading ``U`` (36/9 = 4x the weights)
with few tiles to spread it over; it wins once the call has enough of them. So
where the batch is known too (the engine's default plan decides per input shape,
see ``jiasu.kernels.ops.conv``), ``winograd`` also runs 3x3 convs on smaller maps
when the call has at least :data:`WINOGRAD_MIN_TILES` 4x4 output tiles (on maps of
7x7 or more: on smaller ones most of a 6x6 tile is padding). Measured
on resnet18's layer4 (512 channels, 7x7, 4 tiles an image), against oneDNN:
batch 1 0.46x, 2 0.66x, 4 0.92x (16 tiles), 8 1.27x (32 tiles)
(``benchmarks/winograd_layers.py --batches 1 2 4 8``).

A call with fewer tiles than that (:data:`WINOGRAD_F2_TILES`: a 14x14 map at batch 1, a 7x7 one up to batch 7)
runs ``winograd_f2``, F(2x2, 3x3), since session 16's faster transforms: it reads 16/9 of the weights where
F(4x4) reads 4x them, and such a call is bound by reading them. Whole models, paired median against F(4x4) on
the 14x14 maps and ``nhwc_gemm`` on the 7x7 ones (``benchmarks/native_steps_ab.py MODEL BATCH winograd_f2``):
resnet18 1.058x at batch 1 (with the rule held to the 7x7 maps 1.031x; at batch 4, where only those change,
1.083x), resnet50 1.027x, googlenet 1.022x. Where F(4x4) has 32 tiles or more, F(2x2) lost: resnet18 at batch 8
0.93x, on 28x28 maps at batch 1 0.95x, on 14x14 ones at batch 2 0.98x.

A 1x1 stride-1 conv runs ``pointwise``, jiasu's C matrix product, at any batch:
oneDNN's call costs 25-40 us before any arithmetic. Against oneDNN, layer by layer
(``benchmarks/direct_layers.py``, ``benchmarks/results/direct_layers_session10*.md``):
mobilenet_v2's 1x1 layers 1.10-1.47x at batch 1, googlenet's 1.12-1.24x, resnet50's
0.99-1.07x; at batch 8 0.89-1.10x before streamed stores (below), 0.96-1.49x with
them. Whole models, default plan with and without it
(and the depthwise rule below), ms per image, 2 threads, one process, interleaved:
mobilenet_v2 6.85 -> 5.22 at batch 1 and 4.97 -> 4.83 at batch 8, googlenet
16.8 -> 14.5 and 11.5 -> 11.0, resnet50 41.7 -> 40.2 and 36.9 -> 36.2.

A network's first layer (a dense conv on at most :data:`FIRST_LAYER_CHANNELS` input
channels) runs ``nhwc_direct``, jiasu's C loop, at any batch: it reads the NCHW
input as the graph gives it, where oneDNN needs a channels_last copy first, and
oneDNN's kernels for 1-3 input channels run under their usual speed. Against
oneDNN from the NCHW input (``benchmarks/results/direct_layers_session11_first.md``):
mobilenet_v2's 3->32 3x3 stride 2 1.56x at batch 1 and 1.81x at batch 8, smallcnn's
1->16 7x7 1.45x and 1.12x, resnet's and googlenet's 3->64 7x7 stride 2 1.03-1.09x.
Whole models, in one process (``benchmarks/native_paths_ab.py MODEL BATCH first``),
batch 1: mobilenet_v2 -2%, resnet18 -4%, googlenet -5%, smallcnn -14%; batch 8
within +-3%.

A depthwise conv (multiplier 1) runs ``nhwc_direct`` at batch 1: oneDNN's call
costs more than such a layer's arithmetic. mobilenet_v2's depthwise layers ran
1.31-2.38x oneDNN's speed at batch 1 and 0.98-1.37x at batch 8
(``benchmarks/results/direct_layers_session11_depthwise.md``; 0.68-1.02x at batch 8
before border rows and edge pixels took the 3x3 code). Past batch 1 a depthwise conv whose output is
:data:`STREAMED_OUTPUT_BYTES` or more runs ``nhwc_direct`` too: there the C loops
store past the caches (``kernels/native/vec.h``), which saves reading every output
line before writing it, and mobilenet_v2's 112x112 and 56x56 depthwise layers at
batch 8 ran 1.10-1.95x oneDNN's speed (two runs). With the same streamed stores in
``pointwise``, whole models at batch 8 (ms per image, in one process): mobilenet_v2
6.12 -> 5.76, resnet50 36.1 -> 34.5; batch 1 unchanged.

Every other dense float32 conv (strided, on maps too small for Winograd, 1x1 with
stride 2) runs ``nhwc_gemm``, jiasu's C patches-times-weight, where oneDNN ran them
before (session 14, the AVX2 host): it is one C call, so a chain
(``jiasu.runtime.chain``) runs on through it, where oneDNN's call ended the chain.
Per layer against oneDNN, 2 threads, hot, one process, interleaved
(resnet18/50's and googlenet's oneDNN layers): 0.98-1.45x at batch 1 and 0.91-1.15x
at batch 8. Whole models, default plan with it against without, ms per image
(paired median): resnet18 1.125x at batch 1 (every step one chain) and 1.03x at
batch 8, resnet50 1.07x and 1.01x, googlenet 1.06x and 1.00x. Elsewhere (grouped
convs that are not depthwise, or without the C kernels) oneDNN, and
(CUDA, 3-D, dtypes oneDNN lacks) ``direct``: the vendor library.
"""

from __future__ import annotations

from typing import Optional

import torch

from ..kernels.conv import ConvSpec, get_algorithm
from ..kernels.conv.base import output_size


#: Winograd by default only on maps and channel counts where every layer measured here won (see the docstring).
WINOGRAD_MIN_SIZE = {3: 14, 4: 12, 5: 12, 6: 12, 7: 12}
WINOGRAD_MIN_CHANNELS = {3: 16, 4: 8, 5: 8, 6: 8, 7: 8}
#: 3x3 convs on maps under WINOGRAD_MIN_SIZE[3] (but at least WINOGRAD_MIN_SIZE_BATCHED): Winograd F(4x4)
#: when a call has this many output tiles (see the docstring).
WINOGRAD_MIN_TILES = 32
#: 3x3 calls (on maps of WINOGRAD_MIN_SIZE_BATCHED or more) with fewer F(4x4) tiles than this run F(2x2) (see the
#: docstring); 0 turns the rule off.
WINOGRAD_F2_TILES = 32
WINOGRAD_MIN_SIZE_BATCHED = 7
#: Depthwise convs run nhwc_direct past batch 1 when their output is at least this large: there the C loop
#: stores past the caches (``STREAM_MIN_BYTES`` in ``kernels/native/vec.h``) and beat oneDNN (see the docstring).
STREAMED_OUTPUT_BYTES = 8 << 20
#: Dense convs on at most this many input channels (a network's first layer: gray or RGB) run nhwc_direct.
FIRST_LAYER_CHANNELS = 3


def choose_algorithm(
    spec: Optional[ConvSpec], device: torch.device | str, input_size: Optional[tuple[int, ...]] = None, batch: Optional[int] = None
) -> str:
    """The algorithm a node gets without tuning (``spec`` None: shape unknown at load time).

    ``input_size``: the input's spatial size, where it is known (the graph fixes it, or
    the engine sees it at run time); Winograd is chosen only when it is. ``batch``: the
    input's batch size, where known; it lets 3x3 convs on small maps take Winograd when
    the call has enough tiles.
    """
    if spec is None or torch.device(device).type != "cpu":
        return "direct"
    winograd = _winograd(spec, input_size, batch)
    if winograd is not None:
        return winograd
    if _float32(spec) and get_algorithm("pointwise").check(spec) is None:
        from ..kernels.conv.pointwise import native_available

        if native_available():
            return "pointwise"
    streamed = _output_bytes(spec, input_size, batch) >= STREAMED_OUTPUT_BYTES
    c_loop = _first_layer(spec) or (_depthwise(spec) and (batch == 1 or streamed))
    if c_loop and get_algorithm("nhwc_direct").check(spec) is None:
        from ..kernels.conv.nhwc_direct import native_available

        if native_available():
            return "nhwc_direct"
    if _float32(spec) and get_algorithm("nhwc_gemm").check(spec) is None:
        from ..kernels.conv.nhwc_gemm import native_available

        if native_available():
            return "nhwc_gemm"
    if get_algorithm("onednn").check(spec) is None:
        return "onednn"
    return "direct"


def depends_on_shape(spec: Optional[ConvSpec]) -> bool:
    """Whether :func:`choose_algorithm`'s answer for ``spec`` can change with the input's shape and batch."""
    if spec is None or spec.ndim != 2:
        return False
    return get_algorithm("winograd").check(spec) is None or _depthwise(spec)


def _output_bytes(spec: ConvSpec, input_size: Optional[tuple[int, ...]], batch: Optional[int]) -> int:
    """The float32 output's size in bytes, 0 where the input's size or batch is unknown."""
    if input_size is None or batch is None or len(input_size) != 2:
        return 0
    (h, w), (pt, pl, pb, pr) = input_size, spec.pads
    ho = output_size(h, spec.kernel[0], spec.stride[0], spec.dilation[0], pt + pb)
    wo = output_size(w, spec.kernel[1], spec.stride[1], spec.dilation[1], pl + pr)
    return batch * ho * wo * spec.out_channels * 4


def _float32(spec: ConvSpec) -> bool:
    return spec.dtype in (None, torch.float32)


def _first_layer(spec: ConvSpec) -> bool:
    return spec.groups == 1 and spec.in_channels <= FIRST_LAYER_CHANNELS and _float32(spec)


def _depthwise(spec: ConvSpec) -> bool:
    return spec.groups > 1 and spec.groups == spec.in_channels == spec.out_channels and _float32(spec)


def winograd_tiles(input_size: tuple[int, ...], batch: int, spec: ConvSpec) -> int:
    """F(4x4, 3x3)'s output tiles in one call on a ``batch x input_size`` input."""
    (h, w), (pt, pl, pb, pr) = input_size, spec.pads
    return batch * -(-(h + pt + pb - 2) // 4) * -(-(w + pl + pr - 2) // 4)


def _winograd(spec: ConvSpec, input_size: Optional[tuple[int, ...]], batch: Optional[int] = None) -> Optional[str]:
    if input_size is None or len(input_size) != 2 or spec.dtype not in (None, torch.float32):
        return None
    r = spec.kernel[0]
    name = "winograd" if r == 3 else "winograd_large"
    if r not in WINOGRAD_MIN_SIZE or get_algorithm(name).check(spec) is not None:
        return None
    if spec.in_channels < WINOGRAD_MIN_CHANNELS[r]:
        return None
    # F(4x4)'s tiles in this call, where the batch is known and the map is not too small for tiles to count
    counted = r == 3 and batch is not None and min(input_size) >= WINOGRAD_MIN_SIZE_BATCHED
    tiles = winograd_tiles(input_size, batch, spec) if counted else None
    if tiles is not None and tiles < WINOGRAD_F2_TILES:
        name = "winograd_f2"
    elif min(input_size) < WINOGRAD_MIN_SIZE[r] and (tiles is None or tiles < WINOGRAD_MIN_TILES):
        return None
    from ..kernels.conv.winograd import native_available

    return name if native_available() else None
