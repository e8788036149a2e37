"""``winograd`` / ``winograd_f6`` / ``winograd_f2`` / ``winograd_large``: Winograd minimal filtering F(m x m, r x r).

The output is cut into ``m x m`` tiles. Each tile only reads the
``alpha x alpha`` input tile ``d`` under it (``alpha = m + r - 1``) and equals

    Y = A^T [ (G g G^T) (.) (B^T d B) ] A

where ``(.)`` is the elementwise product and ``g`` the r x r filter (Lavin & Gray,
"Fast Algorithms for Convolutional Neural Networks", 2016). The sum over input
channels commutes with ``A^T . A``, so for each of the ``alpha^2`` positions the
channel reduction is one ``(tiles x C_in) @ (C_in x C_out)`` GEMM, all of them run
as a single batched matmul: ``alpha^2 / m^2`` multiplications per output instead
of ``r^2`` (for 3x3: 2.25 for F(2x2), 4 for F(4x4), 1.78 for F(6x6) instead of 9),
plus the input/output transforms. ``winograd_large`` takes the kernels from 4x4 to
7x7 on the same 8x8 tiles and points as F(6x6, 3x3): F(5x5, 4x4), F(4x4, 5x5)
(64/16 = 4 multiplications per output instead of 25), F(3x3, 6x6) (7.1 instead of
36) and F(2x2, 7x7).

**The transforms in C.** On the CPU in float32 the tile transforms run as jiasu's
own C kernels (``kernels/native/winograd.c``, built on first use; see
``jiasu.kernels.native``): one loop over tiles reads each input tile straight from
the NHWC input (padding as zeros, no padded copy) and writes its transformed
values, and one loop writes finished outputs, bias, residual and ReLU included.
Between them, one ``torch.bmm``. As torch ops the same transforms were about ten
ops per chunk, each a pass over memory, and they ate the GEMM's saving: resnet18's
64-channel 56x56 layer at batch 8 ran 9.84 ms with them against oneDNN's 8.2, and
4.77 ms with the C transforms (``benchmarks/winograd_layers.py``, sessions 7 and 8
in ``benchmarks/RESULTS.md``). Where the C kernels do not build (no compiler,
``JIASU_NATIVE=0``), and on other devices and dtypes, the torch-op path below runs.

**The channel products in C too.** Since session 14 the ``alpha^2`` GEMMs run in C as well, on ``U``
packed per position the way ``pointwise`` packs a 1x1 weight, with its register blocks
(``jiasu_winograd_product``), so the whole convolution is one C call (``jiasu_winograd_conv``): no
Python between the three stages, and a chain (``jiasu.runtime.chain``) can take it. The threads split
the (position, panel) pairs, each over all of a chunk's tiles. Against the C transforms around
``torch.bmm`` (``native_product = False``), whole models, default plan, 2 threads, one process,
interleaved (median of paired runs, AVX2 host): resnet18 1.12x at batch 1 and 1.12x at batch 8,
googlenet 1.16x and 1.13x, smallcnn 1.28x and 1.08x.

The matrices come from the Toom-Cook construction over ``alpha - 1`` finite
interpolation points plus the point at infinity: ``A^T[i, j] = p_j^i``,
``G[j, k] = p_j^k / N_j`` and ``B^T = diag(N) V^-T``, where ``V`` is the
``alpha x alpha`` Vandermonde matrix of the points (infinity contributes the
leading coefficient) and ``N_j = prod_{l != j} (p_j - p_l)``. The scaling by
``N_j`` puts the fractions in ``G`` (applied once, in float64, in ``prepare``)
and keeps ``B^T`` integer for integer points. They are derived exactly with
rationals at import time.

F(2x2) uses the points ``0, 1, -1`` (``A``, ``B`` entries are 0 and +-1).
F(4x4) uses ``0, 1, -1, 1/2, -2``, the best-conditioned of the sets tried (the
error grows with the spread of the points). F(6x6) (``winograd_f6``, 5.06x fewer
multiplications, as NNPACK uses) needs seven points; ``0, +-1, +-2, +-1/2`` is within
a few percent of the best of the sets tried, and symmetric. Float32 max error
relative to max |y| on a 64->64 channel 3x3 layer, 2x56x56 normal input, Kaiming
weights (worst of four seeds, float64 reference):

    F(4x4), points 0, +-1, +-2 (Lavin & Gray)   8.1e-6
    F(4x4), points 0, +-1, +-1/2               1.1e-5
    F(4x4), points 0, +-1, 1/2, -2 (used)      2.6e-6
    F(6x6), points 0, +-1, +-2, +-1/2 (used)   1.2e-5
    F(6x6), points 0, +-1, +-1/2, 2, -3/2      1.0e-5
    F(6x6), points 0, +-1, +-2, 1/2, -3        2.9e-4
    F(6x6), points 0, +-1, +-2, +-3            1.2e-3
    F(6x6), points 0, +-1, +-1/2, +-1/4        2.4e-3
    F(2x2), points 0, +-1                      3.5e-7
    direct (oneDNN), for scale                 1.0e-6

F(6x6) moves fewer bytes per output than F(4x4) (64 transformed values per 36
outputs against 36 per 16) but each transform costs 2 x 8 instead of 2 x 6
multiply-adds per value and its ``U`` is 64/36 as large. Measured per layer it is
within a few percent of F(4x4) either way (``benchmarks/winograd_layers.py``), so
it is one more candidate that tuning times, not a default.

Both tile transforms are separable, ``B^T d B`` = two small matrix products
along the two tile axes, each one GEMM over all tiles and channels at once (the
tile axes outermost, ``(alpha, alpha, tiles * channels)``). That is
``2 * alpha^3`` multiply-adds per tile and channel instead of the ``alpha^4`` of
one Kronecker-product matrix ``B^T (x) B^T``: 3x fewer for F(4x4), and measured
here 1.4x faster on a 64-channel 56x56 layer at batch 8 (one thread). The
layout lets the channel GEMM read and write contiguous ``(alpha^2, tiles,
channels)`` blocks with no extra copies.

On the CPU (float32, oneDNN available) the tiles go through in chunks of about
``chunk_bytes`` of transformed input, so that each chunk's transforms, GEMMs and
output stay in the last-level cache instead of making seven passes over
tensors of 50-100 MB, and each of the ``alpha^2`` channel GEMMs is oneDNN's inner
product with its ``U`` slice prepacked (measured here at 2 threads, 36 GEMMs of
(1568 x 256) @ (256 x 256): ``torch.bmm`` 54 ms, 36 ``torch.mm`` 44 ms, 36 oneDNN
inner products 37 ms). The bias, residual and activation run on each chunk's
output while it is in cache.

A chunk is some 45 torch ops, most of them memory-bound and a few milliseconds
long, and each one spread over all threads pays an OpenMP fork and join and
splits work that does not scale. So with ``n > 1`` torch threads the chunks go,
round-robin, to ``n`` pool threads that run torch on one thread each
(``parallel_chunks``; see ``in_parallel``): each core works through whole chunks
in its own cache. Inside a worker that already runs torch single-threaded (the
engine's batch or inter-op strategies) the chunks run one after another.
"""

from __future__ import annotations

import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from fractions import Fraction
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from ..threads import enter_worker, torch_threads
from .base import ConvSpec, Epilogue, FusedConvFn, FusingConvAlgorithm, check_2d, format_dims, native_conv, nhwc_operands, nhwc_output
from .onednn import available as onednn_available
from .pointwise import _library as _pointwise_library
from .pointwise import pack_weight

_Matrix = list[list[Fraction]]


def _inverse(m: _Matrix) -> _Matrix:
    """Exact Gauss-Jordan inverse of a small rational matrix."""
    n = len(m)
    rows = [list(r) + [Fraction(int(i == j)) for j in range(n)] for i, r in enumerate(m)]
    for c in range(n):
        p = next(r for r in range(c, n) if rows[r][c] != 0)
        rows[c], rows[p] = rows[p], rows[c]
        pivot = rows[c][c]
        rows[c] = [v / pivot for v in rows[c]]
        for r in range(n):
            if r != c and rows[r][c] != 0:
                f = rows[r][c]
                rows[r] = [a - f * b for a, b in zip(rows[r], rows[c])]
    return [r[n:] for r in rows]


def cook_toom(points: Sequence[Fraction], m: int, r: int = 3) -> tuple[_Matrix, _Matrix, _Matrix]:
    """Exact ``(A^T, G, B^T)`` of F(m, r) from ``m + r - 2`` finite points (plus infinity).

    ``A^T`` is ``m x alpha``, ``G`` is ``alpha x r``, ``B^T`` is ``alpha x alpha``, and for
    1-D signals ``A^T [(G g) (.) (B^T d)]`` is the correlation ``y_i = sum_k g_k d_{i+k}``.
    """
    alpha = m + r - 1
    pts = [Fraction(p) for p in points]
    if len(pts) != alpha - 1 or len(set(pts)) != len(pts):
        raise ValueError(f"F({m}, {r}) needs {alpha - 1} distinct finite points, got {points}")
    last = [Fraction(int(i == alpha - 1)) for i in range(alpha)]
    vandermonde = [[p**i for i in range(alpha)] for p in pts] + [last]
    inv = _inverse(vandermonde)
    bt = [[inv[i][j] for i in range(alpha)] for j in range(alpha)]
    g = [[p**k for k in range(r)] for p in pts] + [[Fraction(int(k == r - 1)) for k in range(r)]]
    at = [[p**i for p in pts] + [Fraction(int(i == m - 1))] for i in range(m)]
    for j, p in enumerate(pts):
        scale = Fraction(1)
        for q in pts:
            if q != p:
                scale *= p - q
        bt[j] = [v * scale for v in bt[j]]
        g[j] = [v / scale for v in g[j]]
    return at, g, bt


def _tensor(m: _Matrix, like: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return torch.tensor([[float(v) for v in row] for row in m], dtype=dtype, device=like.device)


def tile_chunks(n: int, tile_rows: int, tile_cols: int, target: int) -> list[tuple[int, int, int, int]]:
    """Split ``n`` images of ``tile_rows x tile_cols`` tiles into chunks of about ``target`` tiles.

    Each chunk is ``(first image, end image, first tile row, end tile row)``: bands of
    whole tile rows of one image when an image has at least ``target`` tiles, else
    runs of whole images. The chunks cover every tile once, in order.
    """
    per_image = tile_rows * tile_cols
    if per_image >= target:
        band = max(1, target // tile_cols)
        return [(i, i + 1, r, min(tile_rows, r + band)) for i in range(n) for r in range(0, tile_rows, band)]
    images = max(1, target // per_image)
    return [(i, min(n, i + images), 0, tile_rows) for i in range(0, n, images)]


def even_chunks(tiles: int, target: int) -> list[tuple[int, int]]:
    """``[t0, t1)`` ranges of about ``target`` tiles covering ``range(tiles)``, their sizes within one.

    ``target`` 0 or at least ``tiles``: one chunk.
    """
    if tiles <= 0:
        return []
    n = 1 if target <= 0 else min(-(-tiles // target), tiles)
    return [(tiles * k // n, tiles * (k + 1) // n) for k in range(n)]


def _chunk_target(tiles: int, v_tile: int, chunk_size: int) -> int:
    """Tiles a chunk of the C path, for ``even_chunks`` (0: all at once): ``chunk_size`` bytes of ``V`` at
    ``v_tile`` bytes a tile, or one chunk where ``V`` is under four of them (or chunking is off, size 0)."""
    return 0 if chunk_size == 0 or tiles * v_tile <= 4 * chunk_size else max(1, chunk_size // v_tile)


# The seven points of the 8x8-tile forms (F(6x6, 3x3) and the larger kernels).
_EIGHT_POINTS = (0, 1, -1, 2, -2, Fraction(1, 2), -Fraction(1, 2))

_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _forget_pools_in_child() -> None:
    # A forked child inherits the executors but not their threads: work submitted there would never run.
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_in_child)


def in_parallel(groups: list[list[tuple[int, int, int, int]]], fn: Callable[..., None]) -> None:
    """``fn(*chunk)`` for every chunk, one group per thread of a shared pool, each thread running torch single-threaded.

    The caller's torch thread count is 1 while the groups run and restored after, with the
    helpers the engine's batch strategy uses (``kernels/threads.py``): the cores are the
    groups', not each op's. The workers run in inference mode (thread-local in torch),
    like the engine that called in.
    """
    workers = len(groups)
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="jiasu-winograd")

    def work(group):
        enter_worker(1)
        with torch.inference_mode():
            for c in group:
                fn(*c)

    with torch_threads(1):
        futures = [pool.submit(work, g) for g in groups]
        wait(futures)  # all of them, so that none still writes the output when an error propagates
        for future in futures:
            future.result()


def _native_library() -> Optional[ctypes.CDLL]:
    """The C tile transforms with their argument types set, or None where they do not build here."""
    from ..native import typed

    i, p, n = ctypes.c_int, ctypes.c_void_p, ctypes.c_long
    return typed(
        "winograd",
        {
            "jiasu_winograd_input": ([i, p, i, i, i, i, i, i, i, i, p, n, n, n, n, p, i], i),
            "jiasu_winograd_output": ([i, p, n, i, p, i, p, p, i, p, i, i, i, i, n, n, n, i], i),
            # x, z, y, then what stays fixed for an input shape
            "jiasu_winograd_conv": ([p, p, p, i, i, i, i, i, i, i, i, i, i, p, p, i, p, p, i, i, i, n, i], i),
        },
    )


def native_available() -> bool:
    """Whether the C tile transforms run here (built on first call); see :func:`jiasu.kernels.native.status`."""
    return _native_library() is not None


class Winograd(FusingConvAlgorithm):
    """F(m x m, r x r) on ``alpha x alpha`` tiles (``m = alpha - r + 1``) for the kernel sizes ``r`` in ``kernels``."""

    #: transformed input per chunk on the CPU path, in bytes (see the module docstring); 0 turns
    #: the chunked path off (the whole batch at once, one ``torch.bmm``: what ran before it).
    chunk_bytes = 16 << 20
    #: torch-op path: run the chunks on a pool of ``torch.get_num_threads()`` single-threaded
    #: workers instead of one after another with every op on all threads (see the module
    #: docstring). The C path always runs its chunks in turn (see ``_native``).
    parallel_chunks = True
    #: run the tile transforms as jiasu's C kernels (``kernels/native/winograd.c``) where they
    #: build (CPU, float32); False, or where they do not build, the torch-op transforms run.
    native = True
    #: the C path's channel products in jiasu's C (the whole convolution one C call, ``_native_conv``);
    #: False: ``torch.bmm`` between the C transforms (``_native``).
    native_product = True
    #: 2: the chunked CPU path (3: only for batches that outgrow one chunk; 4: chunks in
    #: parallel; 5: the C tile transforms, and kernels other than 3x3; 6: the C path's chunks in
    #: turn on all threads; 7: the C transforms 2x faster, their positions an odd number of cache
    #: lines apart, and V and M kept between calls).
    revision = 7

    def __init__(self, name: str, alpha: int, points: Sequence[Fraction], kernels: Sequence[int] = (3,)):
        self.name = name
        self.alpha = alpha
        self.kernels = tuple(kernels)
        self.points = tuple(Fraction(p) for p in points)
        forms = ", ".join(f"F({alpha - r + 1}x{alpha - r + 1}, {r}x{r})" for r in self.kernels)
        sizes = " or ".join(f"{r}x{r}" for r in self.kernels)
        self.description = (
            f"Winograd {forms} on {alpha}x{alpha} tiles, points {', '.join(str(p) for p in self.points)}, inf; "
            f"{sizes} kernels, stride 1, dilation 1, groups 1"
        )
        self._matrices = {r: cook_toom(self.points, alpha - r + 1, r) for r in self.kernels}

    def check(self, spec: ConvSpec) -> Optional[str]:
        reason = check_2d(spec)
        if reason is not None:
            return reason
        if spec.kernel[0] != spec.kernel[1] or spec.kernel[0] not in self.kernels:
            return f"kernel {format_dims(spec.kernel)}, not {' or '.join(f'{r}x{r}' for r in self.kernels)}"
        if spec.stride != (1, 1):
            return f"stride {format_dims(spec.stride)}, not 1"
        if spec.dilation != (1, 1):
            return f"dilation {format_dims(spec.dilation)}, not 1"
        if spec.groups != 1:
            return f"groups {spec.groups} != 1"
        return None

    def prepare_fused(
        self, weight: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec, epilogue: Optional[Epilogue]
    ) -> FusedConvFn:
        """Transform the weights once; the returned ``(x, z)`` callable writes a channels_last output.

        On the CPU in float32 with oneDNN, an input whose tiles outgrow one chunk runs in
        cache-sized chunks (each input shape checked once against the whole-batch path,
        which it falls back to if oneDNN's inner product ever disagrees); anything else
        runs the whole batch at once.
        """
        r = spec.kernel[0]
        alpha, m = self.alpha, self.alpha - r + 1
        dtype = weight.dtype
        c_in, c_out = spec.in_channels, spec.out_channels
        at, g, bt = self._matrices[r]
        # U = G g G^T in float64, stored (alpha^2, C_in, C_out): the right operand of the channel GEMM.
        g64 = _tensor(g, weight, torch.float64)
        u = torch.einsum("ak,ockl,bl->abco", g64, weight.to(torch.float64), g64)
        u = u.reshape(alpha * alpha, c_in, c_out).to(dtype).contiguous()
        bt_t, at_t = _tensor(bt, weight, dtype), _tensor(at, weight, dtype)
        if bias is not None:
            bias = bias.to(dtype).contiguous()
        epilogue = epilogue if epilogue is not None and not epilogue.is_identity else None
        if self.native and weight.device.type == "cpu" and dtype == torch.float32:
            lib = _native_library()
            if lib is not None:
                return self._native(lib, u, bt_t, at_t, bias, spec, epilogue, m)
        whole = self._whole(u, bt_t, at_t, bias, spec, m)

        def whole_fused(x: torch.Tensor, z: Optional[torch.Tensor] = None) -> torch.Tensor:
            y = whole(x)
            return epilogue.apply(y, z) if epilogue is not None else y

        if self.chunk_bytes <= 0 or weight.device.type != "cpu" or dtype != torch.float32 or not onednn_available():
            return whole_fused
        tile_bytes = alpha * alpha * max(c_in, c_out) * u.element_size()  # transformed input (or output) per tile
        chunked = self._chunked(u, bt_t, at_t, bias, spec, epilogue, max(1, self.chunk_bytes // tile_bytes), m)
        checked: dict[tuple, bool] = {}

        def run(x: torch.Tensor, z: Optional[torch.Tensor] = None) -> torch.Tensor:
            ok = checked.get(x.shape)
            if ok is None:
                n, _, h, w = x.shape
                _, _, th, tw = self._grid(h, w, spec.pads, m, r)
                if n * th * tw * tile_bytes <= self.chunk_bytes:
                    # One chunk would hold the whole batch: one bmm beats 36 oneDNN calls there
                    # (their per-call cost; resnet18's layer1 at batch 1: 2.3 vs 3.9 ms).
                    ok = checked[x.shape] = False
                    return whole_fused(x, z)
                # Checked once per input shape, as the oneDNN convolution is (see onednn.py):
                # both paths run on this input, and the chunked one is kept if they agree.
                a, b = chunked(x, z), whole_fused(x, z)
                scale = max(b.abs().max().item(), 1e-30) if b.numel() else 1.0
                ok = checked[x.shape] = a.shape == b.shape and (a - b).abs().max().item() <= 1e-4 * scale
                return a if ok else b
            return chunked(x, z) if ok else whole_fused(x, z)

        return run

    @staticmethod
    def _grid(h: int, w: int, pads: tuple[int, ...], m: int, r: int) -> tuple[int, int, int, int]:
        """The output size ``(ho, wo)`` of the r x r conv on an ``h x w`` input padded by ``pads``, and its m x m tiles ``(th, tw)``."""
        pt, pl, pb, pr = pads
        ho, wo = h + pt + pb - r + 1, w + pl + pr - r + 1
        if ho < 1 or wo < 1:
            raise ValueError(f"input {h}x{w} with pads {pads} is smaller than the {r}x{r} kernel")
        return ho, wo, -(-ho // m), -(-wo // m)

    def _tiles(self, x: torch.Tensor, pads: tuple[int, ...], m: int) -> tuple[torch.Tensor, int, int, int, int]:
        """``x``'s input tiles as a view ``(N, th, tw, C, alpha, alpha)``, with the output size ``(ho, wo)`` and ``(th, tw)``.

        The input is padded in NHWC, and up to whole tiles at the bottom/right (the
        extra outputs are cropped by the caller); with channels innermost the tile
        gather copies contiguous runs.
        """
        alpha = self.alpha
        pt, pl, pb, pr = pads
        ho, wo, th, tw = self._grid(x.shape[2], x.shape[3], pads, m, alpha - m + 1)
        xp = F.pad(x.permute(0, 2, 3, 1), (0, 0, pl, pr + tw * m - wo, pt, pb + th * m - ho))
        return xp.unfold(1, alpha, m).unfold(2, alpha, m), ho, wo, th, tw

    def _chunked(
        self,
        u: torch.Tensor,
        bt_t: torch.Tensor,
        at_t: torch.Tensor,
        bias: Optional[torch.Tensor],
        spec: ConvSpec,
        epilogue: Optional[Epilogue],
        target: int,
        m: int,
    ) -> FusedConvFn:
        """The CPU path: chunks of about ``target`` tiles, oneDNN inner products, the epilogue applied per chunk in cache."""
        alpha = self.alpha
        c_in, c_out = spec.in_channels, spec.out_channels
        linear = torch.ops.mkldnn._linear_pointwise
        packed = [torch.ops.mkldnn._reorder_linear_weight(u[p].t().contiguous(), None) for p in range(alpha * alpha)]
        # The bias rides on one GEMM: where A^T's column is all ones (the point 1), A^T M A
        # spreads M[a, a] to every output of the tile, so adding the bias there (oneDNN's own
        # bias, free) adds it everywhere and saves a pass over the output.
        at = self._matrices[alpha - m + 1][0]
        ones = [j for j in range(alpha) if all(at[i][j] == 1 for i in range(m))]
        bias_at = ones[0] * alpha + ones[0] if ones and bias is not None else None
        late_bias = bias if bias_at is None else None
        # ReLU alone (the common case) is applied by the copy that writes each chunk out.
        relu_only = epilogue is not None and epilogue.activation == "Relu" and not epilogue.residual and late_bias is None

        def finish(block: torch.Tensor, z: Optional[torch.Tensor]) -> None:
            if late_bias is not None:
                block.add_(late_bias)
            if epilogue is not None:
                epilogue.apply(block, z)

        def run(x: torch.Tensor, z: Optional[torch.Tensor] = None) -> torch.Tensor:
            n = x.shape[0]
            tiles, ho, wo, th, tw = self._tiles(x, spec.pads, m)
            whole_tiles = (ho, wo) == (th * m, tw * m)
            out = x.new_empty(n, th * m, tw * m, c_out)
            zl = z.permute(0, 2, 3, 1) if z is not None else None  # NHWC view, like out

            def chunk(i0: int, i1: int, r0: int, r1: int) -> None:
                rows = (i1 - i0) * (r1 - r0) * tw
                d = tiles[i0:i1, r0:r1].permute(4, 5, 0, 1, 2, 3).reshape(alpha, -1)
                v = torch.matmul(bt_t, (bt_t @ d).view(alpha, alpha, -1)).view(alpha * alpha, rows, c_in)
                mm = torch.stack([linear(v[p], packed[p], bias if p == bias_at else None, "none", [], "") for p in range(alpha * alpha)])
                y = torch.matmul(at_t, (at_t @ mm.view(alpha, -1)).view(m, alpha, -1))
                block = out[i0:i1, r0 * m : r1 * m]
                y = y.view(m, m, i1 - i0, r1 - r0, tw, c_out).permute(2, 3, 0, 4, 1, 5)
                dst = block.view(i1 - i0, r1 - r0, m, tw, m, c_out)
                if relu_only and whole_tiles:
                    torch.clamp_min(y, 0, out=dst)
                    return
                dst.copy_(y)
                if whole_tiles:
                    finish(block, zl[i0:i1, r0 * m : r1 * m] if zl is not None else None)

            chunks = tile_chunks(n, th, tw, target)
            workers = min(torch.get_num_threads(), len(chunks)) if self.parallel_chunks else 1
            if workers > 1:
                in_parallel([chunks[k::workers] for k in range(workers)], chunk)
            else:
                for c in chunks:
                    chunk(*c)
            if not whole_tiles:
                # The tiles overhang the output: crop (one copy), then the epilogue on the whole.
                out = out[:, :ho, :wo].contiguous()
                finish(out, zl)
            return out.permute(0, 3, 1, 2)

        return run

    def _native(
        self,
        lib: ctypes.CDLL,
        u: torch.Tensor,
        bt_t: torch.Tensor,
        at_t: torch.Tensor,
        bias: Optional[torch.Tensor],
        spec: ConvSpec,
        epilogue: Optional[Epilogue],
        m: int,
    ) -> FusedConvFn:
        """The CPU float32 path with the C tile transforms (``kernels/native/winograd.c``).

        Per chunk of tiles (all of them when they fit in ``target``): the input
        transform writes ``V`` (alpha^2, tiles, C_in) straight from the NHWC input
        (padding read as zeros, no padded copy), one ``torch.bmm`` makes ``M = V U``,
        and the output transform writes finished NHWC outputs, with the bias, the
        residual and a ReLU added in the same pass. Another activation runs after,
        on the output. Chunks run one after another, each on all of torch's threads
        (OpenMP in the transforms, torch's own threads in the GEMM): not on the
        torch path's pool of single-threaded workers. In a whole model the pool's
        two threads met the OpenMP thread that oneDNN's convolution had left spinning,
        three threads on two cores. Measured at 2 threads, ms per image, pool against
        serial: smallcnn at batch 8 0.86 / 0.56, googlenet 16.3 / 13.4, resnet50 44.1 / 40.6,
        resnet18 15.5 / 15.0 (``Winograd`` chosen by the heuristic, one process,
        toggled between rounds).

        Chunk size: each chunk's GEMM reads all of ``U``, so a chunk's ``V`` is kept at
        half of ``U``'s bytes or more (at least 1 MB, at most ``chunk_bytes``), and a
        batch whose whole ``V`` is under four chunks runs as one. Measured here at
        2 threads while the chunks still ran on the pool, ms per call (16 MB / 1 MB
        chunks; the rule's pick in bold):
        vgg16 conv2_2 at batch 8 (``U`` 2.4 MB) 68-81 / **55**; conv4_2 (``U`` 38 MB)
        **45-52** / 95-98; resnet18's 128-channel layer at batch 8 4.0-4.9 / **3.8-4.6**;
        its 64-channel layer at batch 1 (``V`` 1.6 MB, one chunk) **0.49** / 0.70-0.82.
        """
        alpha = self.alpha
        r = alpha - m + 1
        c_in, c_out = spec.in_channels, spec.out_channels
        pt, pl = spec.pads[0], spec.pads[1]
        bt_c, at_c = bt_t.contiguous(), at_t.contiguous()
        relu = epilogue is not None and epilogue.activation == "Relu"
        after = Epilogue(epilogue.activation, epilogue.params) if epilogue is not None and epilogue.activation and not relu else None
        transform_in, transform_out = lib.jiasu_winograd_input, lib.jiasu_winograd_output
        bias_ptr = bias.data_ptr() if bias is not None else None
        v_tile = alpha * alpha * c_in * 4  # bytes of V per tile
        chunk_size = min(max(u.numel() * 2, 1 << 20), self.chunk_bytes) if self.chunk_bytes > 0 else 0  # u.numel() * 4 / 2
        pointwise = _pointwise_library() if self.native_product else None
        if pointwise is not None:
            return self._native_conv(lib, pointwise, u, bt_c, at_c, bias, spec, relu, after, m, v_tile, chunk_size)

        def run(x: torch.Tensor, z: Optional[torch.Tensor] = None) -> torch.Tensor:
            n, _, h, w = x.shape
            ho, wo, th, tw = self._grid(h, w, spec.pads, m, r)
            xh, zh = nhwc_operands(self.name, x, z, c_in, (n, c_out, ho, wo))
            out = nhwc_output(xh, (n, c_out, ho, wo))  # float32, as the C kernels write
            tiles = n * th * tw
            z_ptr = zh.data_ptr() if zh is not None else None

            def chunk(t0: int, t1: int, threads: int) -> None:
                rows = t1 - t0
                v = xh.new_empty(alpha * alpha, rows, c_in)
                transform_in(alpha, xh.data_ptr(), h, w, c_in, pt, pl, th, tw, m, bt_c.data_ptr(), t0, t1, t0, rows, v.data_ptr(), threads)
                mm = torch.bmm(v, u)
                transform_out(alpha, mm.data_ptr(), rows, c_out, at_c.data_ptr(), m, bias_ptr, z_ptr, int(relu), out.data_ptr(), ho, wo, th, tw, t0, t1, t0, threads)

            target = _chunk_target(tiles, v_tile, chunk_size)
            threads = torch.get_num_threads()
            for t0, t1 in even_chunks(tiles, target):
                chunk(t0, t1, threads)
            return after.apply(out, None) if after is not None else out

        return run

    def _native_conv(self, lib, pointwise, u, bt_c, at_c, bias, spec, relu, after, m, v_tile, chunk_size) -> FusedConvFn:
        """The whole convolution as one C call (``jiasu_winograd_conv``): the transforms of :meth:`_native`, and the
        channel products in jiasu's C (``pointwise.h``'s register blocks) on ``U`` packed per position, where
        :meth:`_native` calls ``torch.bmm``; the same chunks. So a chain (``jiasu.runtime.chain``) can run it."""
        alpha, r = self.alpha, self.alpha - m + 1
        c_in, c_out = spec.in_channels, spec.out_channels
        pt, pl = spec.pads[0], spec.pads[1]
        up = torch.stack([pack_weight(pointwise, u[q].t()) for q in range(alpha * alpha)])  # the closure keeps it alive

        def prepare(shape: torch.Size, nchw: bool, threads: int) -> tuple:
            n, _, h, w = shape
            ho, wo, th, tw = self._grid(h, w, spec.pads, m, r)
            tiles = n * th * tw
            target = _chunk_target(tiles, v_tile, chunk_size)
            # The pointers are read here, so the closure keeps the matrices, up and the bias alive.
            values = (alpha, n, h, w, c_in, pt, pl, th, tw, m, bt_c.data_ptr(), up.data_ptr(), c_out, at_c.data_ptr(),
                      bias.data_ptr() if bias is not None else None, int(relu), ho, wo, target, threads)
            return (n, c_out, ho, wo), values

        # Another dtype (the weights are CPU float32): converted to float32 first, as the C transforms' path does.
        conv = native_conv(
            self.name, lib, "jiasu_winograd_conv", c_in, prepare, after, lambda: lambda x, z=None: conv(x.float(), None if z is None else z.float())
        )
        return conv

    def _whole(
        self, u: torch.Tensor, bt_t: torch.Tensor, at_t: torch.Tensor, bias: Optional[torch.Tensor], spec: ConvSpec, m: int
    ) -> Callable[[torch.Tensor], torch.Tensor]:
        """All tiles of the batch at once, one batched matmul (any device and dtype)."""
        alpha = self.alpha
        c_in, c_out = spec.in_channels, spec.out_channels

        def run(x: torch.Tensor) -> torch.Tensor:
            n = x.shape[0]
            tiles, ho, wo, th, tw = self._tiles(x, spec.pads, m)
            d = tiles.permute(4, 5, 0, 1, 2, 3).reshape(alpha, alpha * n * th * tw * c_in)
            # B^T d B: B^T along the first tile axis (one GEMM), then along the second (batched over the first).
            v = torch.matmul(bt_t, (bt_t @ d).view(alpha, alpha, -1)).view(alpha * alpha, n * th * tw, c_in)
            mm = torch.bmm(v, u)  # (alpha^2, tiles, C_out)
            # A^T mm A, the same way: (alpha, alpha, .) -> (m, alpha, .) -> (m, m, .).
            y = torch.matmul(at_t, (at_t @ mm.view(alpha, -1)).view(m, alpha, -1)).view(m, m, n, th, tw, c_out)
            # Write the output channels_last (NHWC in memory): the tiles' channel rows stay
            # contiguous, and oneDNN convolutions downstream read it without a reorder.
            y = y.permute(2, 3, 0, 4, 1, 5)  # (N, th, m, tw, m, C_out)
            if (ho, wo) == (th * m, tw * m):
                out = x.new_empty(n, ho, wo, c_out)
                if bias is None:
                    out.view(y.shape).copy_(y)
                else:
                    torch.add(y, bias, out=out.view(y.shape))
            else:
                out = y.reshape(n, th * m, tw * m, c_out)[:, :ho, :wo]
                out = out + bias if bias is not None else out.contiguous()
            return out.permute(0, 3, 1, 2)

        return run


class WinogradF4(Winograd):
    name = "winograd"

    def __init__(self):
        super().__init__("winograd", 6, (0, 1, -1, Fraction(1, 2), -2))


class WinogradF6(Winograd):
    name = "winograd_f6"

    def __init__(self):
        super().__init__("winograd_f6", 8, _EIGHT_POINTS)


class WinogradF2(Winograd):
    name = "winograd_f2"

    def __init__(self):
        super().__init__("winograd_f2", 4, (0, 1, -1))


class WinogradLarge(Winograd):
    """F(5x5, 4x4), F(4x4, 5x5), F(3x3, 6x6) and F(2x2, 7x7): kernels larger than 3x3 on F(6x6)'s 8x8 tiles."""

    name = "winograd_large"

    def __init__(self):
        super().__init__("winograd_large", 8, _EIGHT_POINTS, kernels=(4, 5, 6, 7))
