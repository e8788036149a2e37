"""Collaborative computing: one input cut along its height, each part with the halo its layers need.

The split covers the chain of row-local layers at the graph's input (Conv and
fused Conv, MaxPool, AveragePool, and pointwise ops with constant side inputs),
up to the first value that a node needing the whole map reads or that more than
one node reads (a residual or inception branch, a Flatten, a Gemm). The chain's
output rows are dealt evenly to the workers; walking the chain backwards, each
layer's receptive field (kernel, stride, dilation, top pad) says which input
rows a part needs (:func:`halo_plan`). Every part runs copies of the chain's
kernels whose height pads are the real border pads where the part touches the
border and zero elsewhere (the halo rows take their place), so each part's rows
equal the full map's rows. The parts are concatenated and the rest of the graph
runs with ``tail_threads`` torch threads inside each kernel (default: every core).
"""

from __future__ import annotations

import copy
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

import torch

from ...kernels.ops._common import same_pads
from ...kernels.threads import enter_worker, torch_threads
from ._graph import intra_threads_for, run_steps
from .base import Runner, StrategyError

#: ops that compute each output row from the same input row (their other inputs must be constants).
POINTWISE = frozenset({
    "Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "Elu", "Selu", "Softplus", "Mish",
    "Identity", "BatchNormalization", "PRelu", "Gelu",
})
_CONV = ("Conv", "FusedConv")
_POOL = ("MaxPool", "AveragePool")


@dataclass(frozen=True)
class RowGeometry:
    """How one layer maps input rows to output rows (pointwise layers: kernel 1, stride 1, no pads)."""

    kernel: int
    stride: int = 1
    dilation: int = 1
    pad_top: int = 0

    @property
    def span(self) -> int:
        return (self.kernel - 1) * self.dilation + 1


@dataclass(frozen=True)
class TileRows:
    """One layer's work for one part: input rows ``[lo, hi)`` of the full map, padded by ``top``/``bottom``."""

    lo: int
    hi: int
    top: int
    bottom: int


def halo_plan(layers: list[RowGeometry], heights: list[int], out_rows: list[tuple[int, int]]) -> list[list[TileRows]]:
    """Per part (output rows ``[a, b)`` of the last layer), per layer, the input rows it reads and the pads it needs.

    ``heights[l]`` is layer l's full input height. Output row o of a layer reads
    input rows ``o*stride - pad_top + j*dilation`` for j < kernel; rows outside
    ``[0, height)`` are padding, which the part gets as explicit pads.
    """
    plans = []
    for a, b in out_rows:
        tiles: list[TileRows] = []
        for g, h in zip(reversed(layers), reversed(heights)):
            lo_raw = a * g.stride - g.pad_top
            hi_raw = (b - 1) * g.stride - g.pad_top + g.span
            lo, hi = max(0, lo_raw), min(h, hi_raw)
            tiles.append(TileRows(lo, hi, lo - lo_raw, max(0, hi_raw - h)))
            a, b = lo, hi
        plans.append(tiles[::-1])
    return plans


def split_rows(height: int, parts: int) -> list[tuple[int, int]]:
    parts = max(1, min(parts, height))
    bounds = [height * k // parts for k in range(parts + 1)]
    return [(bounds[k], bounds[k + 1]) for k in range(parts)]


@dataclass
class _Layer:
    step: int
    kernel: object
    kind: str  # "conv", "pool", "pointwise"


class _ShapePlan:
    """The chain laid out for one input size: heights, per-part row ranges and the kernel copies that run them."""

    def __init__(self, layers: list[_Layer], height: int, width: int, parts: int):
        geoms, heights, self.wpads = [], [], []
        h, w = height, width
        for layer in layers:
            heights.append(h)
            k = layer.kernel
            if layer.kind == "pointwise":
                geoms.append(RowGeometry(1))
                self.wpads.append(None)
                continue
            pads = _full_pads(k, [h, w])
            if layer.kind == "conv":
                h_out = (h + pads[0] + pads[2] - ((k.kernel[0] - 1) * k.dilations[0] + 1)) // k.strides[0] + 1
                w_out = (w + pads[1] + pads[3] - ((k.kernel[1] - 1) * k.dilations[1] + 1)) // k.strides[1] + 1
                self.wpads.append((pads[1], pads[3]))
            else:
                h_out, w_out = k.output_sizes([h, w], pads)
                span_w = (k.kernel[1] - 1) * k.dilations[1] + 1
                # Without ceil_mode the right pad must make the floor formula reach the same width.
                self.wpads.append((pads[1], max(pads[3], (w_out - 1) * k.strides[1] + span_w - w - pads[1])))
            geoms.append(RowGeometry(k.kernel[0], k.strides[0], k.dilations[0], pads[0]))
            h, w = h_out, w_out
        if h < 1 or w < 1:
            raise StrategyError(f"the input of {height}x{width} is too small for this network's layers; give a larger image")
        self.out_height = h
        self.rows = split_rows(h, parts)
        self.tiles = halo_plan(geoms, heights, self.rows)
        self.kernels = [[_tile_kernel(layer, wp, t) for layer, wp, t in zip(layers, self.wpads, tiles)] for tiles in self.tiles]


def _full_pads(k, spatial: list[int]) -> list[int]:
    if k.auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        return list(same_pads(spatial, k.kernel, k.strides, k.dilations, k.auto_pad))
    if k.auto_pad == "VALID":
        return [0, 0, 0, 0]
    return list(k.pads)


def _tile_kernel(layer: _Layer, wpads, tile: TileRows):
    """A copy of the layer's kernel with height pads ``tile.top``/``tile.bottom`` (pointwise layers are shared)."""
    k = layer.kernel
    if layer.kind == "pointwise":
        return k
    c = copy.copy(k)
    c.pads = [tile.top, wpads[0], tile.bottom, wpads[1]]
    c.auto_pad = "NOTSET"
    if layer.kind == "conv":
        c._prepared = {}
    elif k.node.op_type == "MaxPool":
        c.ceil_mode = False  # the pads above already reach every row the full map's windows reach
        c.fixed_pads = c.resolve_pads([])
        c.fixed_sym = c.symmetric(c.fixed_pads, c.n, c.kernel)
    else:  # AveragePool (never with ceil_mode; see _kind)
        c.fixed_pads = c.resolve_pads([])
        c.fast = c.undilated and c.symmetric(c.fixed_pads, c.n, c.kernel) is not None
        c._counts = {}
    return c


def _kind(kernel) -> Optional[str]:
    op = kernel.node.op_type
    if op in _CONV and getattr(kernel, "ndim", 0) == 2:
        return "conv"
    if op in _POOL and kernel.n == 2 and not getattr(kernel, "want_indices", False):
        if op == "AveragePool" and kernel.ceil_mode:
            return None  # the ceil extension is excluded from the divisor; a tile's explicit pad would not be
        return "pool"
    if op in POINTWISE:
        return "pointwise"
    return None


def find_chain(engine, info) -> list[_Layer]:
    """The row-local layers from the graph's input up to the first value the whole map is needed for."""
    steps = engine.steps
    if len(info.input_slots) != 1:
        raise StrategyError(f"spatial split needs a model with one input; this one has {len(info.input_slots)}; use 'batch' or 'inter_op'")
    cur = info.input_slots[0]
    chain: list[_Layer] = []
    stop = None
    for i in info.dynamic:
        step = steps[i]
        kind = _kind(step.kernel)
        if (
            kind is None or info.dynamic_inputs(i) != [cur] or step.inputs[0] != cur or len(info.consumers[cur]) != 1
            or cur in info.output_slots or len([o for o in step.outputs if o is not None]) != 1
        ):
            stop = step.kernel.node
            break
        chain.append(_Layer(i, step.kernel, kind))
        cur = step.outputs[0]
    while chain and chain[-1].kind == "pointwise":  # a trailing pointwise op gains nothing from the split
        chain.pop()
    if not any(layer.kind != "pointwise" for layer in chain):
        first = f"{stop.op_type} node {stop.name!r}" if stop is not None else "nothing"
        raise StrategyError(
            f"spatial split needs a chain of Conv/MaxPool/AveragePool layers at the graph's input; this graph starts with "
            f"{first}; use 'batch', 'pipeline' or 'inter_op'"
        )
    return chain


class SpatialSplit(Runner):
    name = "spatial"

    def __init__(self, engine, workers=2, tail_threads: Optional[int] = None, **kw):
        super().__init__(engine, workers, **kw)
        # torch threads for the graph after the merge: all cores by default; 1 where the cores are contended
        # (a busy machine makes every intra-op barrier wait for the slowest thread).
        self.tail_threads = tail_threads or self.cores
        self.chain = find_chain(engine, self.info)
        chain_steps = {layer.step for layer in self.chain}
        self.rest = [i for i in self.info.dynamic if i not in chain_steps]
        self.last_slot = engine.steps[self.chain[-1].step].outputs[0]
        self.intra = intra_threads_for(workers, self.cores)
        self._plans: dict[tuple[int, int], _ShapePlan] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jiasu-spatial")

    def plan_for(self, height: int, width: int) -> _ShapePlan:
        key = (height, width)
        if key not in self._plans:
            self._plans[key] = _ShapePlan(self.chain, height, width, self.workers)
        return self._plans[key]

    def run(self, feeds):
        info, steps = self.info, self.engine.steps
        values = info.initial_values(feeds)
        x = values[info.input_slots[0]]
        if x.dim() != 4:
            raise StrategyError(f"spatial split needs an NCHW input; got rank {x.dim()}; use 'batch' or 'inter_op'")
        plan = self.plan_for(int(x.shape[2]), int(x.shape[3]))

        def part(p: int):
            enter_worker(self.intra)
            with torch.inference_mode():
                first = plan.tiles[p][0]
                t = x[:, :, first.lo : first.hi]
                for layer, kernel in zip(self.chain, plan.kernels[p]):
                    ins = [t] + [values[s] if s is not None else None for s in steps[layer.step].inputs[1:]]
                    t = kernel.run(*ins)[0]
                return t

        with torch_threads(self.intra):
            tiles = list(self._pool.map(part, range(len(plan.tiles))))
        with torch_threads(self.tail_threads), torch.inference_mode():
            values[self.last_slot] = tiles[0] if len(tiles) == 1 else torch.cat(tiles, 2)
            del tiles
            run_steps(steps, self.rest, values)
        return info.outputs(values)

    def describe(self):
        ops = [self.engine.steps[layer.step].kernel.node.op_type for layer in self.chain]
        return {"strategy": self.name, "workers": self.workers, "intra_threads": self.intra, "tail_threads": self.tail_threads,
                "chain": ops}

    def close(self):
        self._pool.shutdown(wait=True)
