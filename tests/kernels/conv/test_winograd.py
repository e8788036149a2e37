"""Winograd's CPU paths: chunks of tiles, the epilogue per chunk, and the C tile transforms.

``test_algorithms.py`` draws small maps, which fit in one chunk; here the chunk
size is shrunk so that every way of cutting the tiles (bands of tile rows within
an image, runs of whole images, a ragged last chunk, tiles overhanging the
output) runs, each checked against ``F.conv2d`` in float64, on the torch-op
transforms (``native = False``) and on the C ones (``kernels/native/winograd.c``), with the channel products
in C too (the default) or by ``torch.bmm``.
"""

from __future__ import annotations

import pytest
import torch

from jiasu.kernels.conv import CONV_ALGORITHMS, ConvSpec, Epilogue
from jiasu.kernels.conv.onednn import available as onednn_available
from jiasu.kernels.conv.winograd import Winograd, WinogradF2, WinogradF4, WinogradF6, WinogradLarge, even_chunks, tile_chunks
from jiasu.kernels.native import status as native_status

from .test_algorithms import reference, relative_error

pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.skipif(not onednn_available(), reason="the chunked path needs torch's oneDNN"),
]


@pytest.mark.parametrize(
    "n, rows, cols, target",
    [(3, 5, 4, 8), (3, 5, 4, 20), (3, 5, 4, 45), (5, 2, 2, 8), (1, 7, 3, 1), (2, 1, 1, 100)],
)
def test_tile_chunks_cover_every_tile_once_in_order(n, rows, cols, target):
    tiles = [(i, r, c) for i0, i1, r0, r1 in tile_chunks(n, rows, cols, target) for i in range(i0, i1) for r in range(r0, r1) for c in range(cols)]
    assert tiles == [(i, r, c) for i in range(n) for r in range(rows) for c in range(cols)]


@pytest.mark.parametrize("tiles, target", [(10, 4), (10, 0), (3, 1), (7, 3), (12, 5), (5, 100), (1, 1)])
def test_even_chunks_cover_every_tile_in_equal_shares(tiles, target):
    chunks = even_chunks(tiles, target)
    assert [t for t0, t1 in chunks for t in range(t0, t1)] == list(range(tiles))
    sizes = [t1 - t0 for t0, t1 in chunks]
    assert max(sizes) - min(sizes) <= 1
    assert len(chunks) == (1 if target <= 0 else -(-tiles // target))
    if target <= 0 or target >= tiles:
        assert chunks == [(0, tiles)]


def test_tile_chunks_sizes():
    # 20 tiles per image >= 8: bands of 2 tile rows (8 tiles), the last band 1 row.
    assert tile_chunks(2, 5, 4, 8) == [(0, 1, 0, 2), (0, 1, 2, 4), (0, 1, 4, 5), (1, 2, 0, 2), (1, 2, 2, 4), (1, 2, 4, 5)]
    # 4 tiles per image < 9: runs of 2 whole images, the last run 1 image.
    assert tile_chunks(5, 2, 2, 9) == [(0, 2, 0, 2), (2, 4, 0, 2), (4, 5, 0, 2)]


NATIVE = native_status("winograd")
needs_native = pytest.mark.skipif(bool(NATIVE), reason=f"no native kernels here: {NATIVE}")
# The transform paths: torch ops; the C transforms with the C channel products (the whole convolution one C
# call, the default); the C transforms around torch.bmm. The C ones are skipped (with the reason) where they do not build.
PATHS = [
    pytest.param(False, id="torch"),
    pytest.param(True, id="native", marks=needs_native),
    pytest.param("bmm", id="native-bmm", marks=needs_native),
]


def _small_chunks(cls, chunk_bytes: int, native=False) -> Winograd:
    algo = cls()
    algo.chunk_bytes = chunk_bytes  # instance attributes: the registered algorithm keeps its defaults
    algo.native = bool(native)
    algo.native_product = native is True
    return algo


@pytest.mark.parametrize("native", PATHS)
@pytest.mark.parametrize("cls", [WinogradF4, WinogradF6, WinogradF2])
@pytest.mark.parametrize(
    "batch, size, pads, chunk_bytes",
    [
        (2, (16, 12), (1, 1, 1, 1), 36 * 8 * 4 * 7),  # 7-tile target, 3 tiles a row: bands of 2 rows in each image
        (5, (8, 8), (1, 1, 1, 1), 36 * 8 * 4 * 9),  # 4 tiles an image (F(4x4)): runs of 2 images
        (3, (13, 9), (1, 0, 2, 1), 36 * 8 * 4 * 5),  # asymmetric pads, tiles overhang the output
        (2, (10, 10), (1, 1, 1, 1), 1),  # one tile a chunk
    ],
)
@pytest.mark.parametrize("epilogue", [None, Epilogue("Relu"), Epilogue("Relu", residual=True), Epilogue("Clip", (0.0, 6.0), residual=True)])
def test_chunked_matches_conv2d(cls, batch, size, pads, chunk_bytes, epilogue, native):
    gen = torch.Generator().manual_seed(0)
    c_in, c_out = 5, 8
    x = torch.randn(batch, c_in, *size, generator=gen).contiguous(memory_format=torch.channels_last)
    w, b = torch.randn(c_out, c_in, 3, 3, generator=gen), torch.randn(c_out, generator=gen)
    spec = ConvSpec.from_weight(w, pads=pads)
    ref = reference(x, w, b, spec)
    z = torch.randn(ref.shape, generator=gen) if epilogue is not None and epilogue.residual else None
    if epilogue is not None:
        ref = ref + z.double() if z is not None else ref
        ref = ref.clamp(0.0, 6.0) if epilogue.activation == "Clip" else ref.relu()
    z_before = None if z is None else z.clone()
    fn = _small_chunks(cls, chunk_bytes, native).prepare_fused(w, b, spec, epilogue)
    for _ in range(2):  # torch path: the first call checks against the whole-batch path, the second runs chunked alone
        y = fn(x, z)
        assert y.shape == ref.shape and y.is_contiguous(memory_format=torch.channels_last)
        assert relative_error(y, ref, x, w) <= 1e-5
    if z is not None:
        assert torch.equal(z, z_before), "the epilogue modified the residual input"


@pytest.mark.parametrize("scale, chunked_calls", [(1.0, 2), (1.01, 1)])
def test_chunked_path_serves_the_cpu_and_a_wrong_result_is_caught(monkeypatch, scale, chunked_calls):
    """Float32 CPU inputs run chunked; if the first call's check finds it off, the shape keeps the whole-batch path."""
    calls = []
    original = Winograd._chunked

    def wrapped(self, *args):
        fn = original(self, *args)
        return lambda x, z=None: calls.append(1) or fn(x, z) * scale

    monkeypatch.setattr(Winograd, "_chunked", wrapped)
    gen = torch.Generator().manual_seed(1)
    x, w = torch.randn(2, 4, 12, 12, generator=gen), torch.randn(4, 4, 3, 3, generator=gen)
    spec = ConvSpec.from_weight(w, pads=(1, 1, 1, 1))
    fn = _small_chunks(WinogradF4, 36 * 4 * 4 * 4).prepare(w, None, spec)
    for _ in range(2):
        assert relative_error(fn(x), reference(x, w, None, spec), x, w) <= 1e-5
    assert len(calls) == chunked_calls


def test_registered_algorithm_keeps_the_default_chunk_size():
    assert CONV_ALGORITHMS["winograd"].chunk_bytes == Winograd.chunk_bytes == 16 << 20


def test_chunk_bytes_zero_runs_the_whole_batch_at_once(monkeypatch):
    monkeypatch.setattr(Winograd, "_chunked", lambda self, *a: pytest.fail("the chunked path was prepared"))
    gen = torch.Generator().manual_seed(2)
    x, w = torch.randn(2, 4, 12, 12, generator=gen), torch.randn(4, 4, 3, 3, generator=gen)
    spec = ConvSpec.from_weight(w, pads=(1, 1, 1, 1))
    y = _small_chunks(WinogradF4, 0).prepare(w, None, spec)(x)
    assert relative_error(y, reference(x, w, None, spec), x, w) <= 1e-5


def test_a_batch_that_fits_one_chunk_runs_whole(monkeypatch):
    """Tiles that fit in one chunk take the whole-batch path (one bmm, not 36 oneDNN calls)."""
    calls = []
    original = Winograd._chunked

    def counted(self, *args):
        fn = original(self, *args)
        return lambda x, z=None: calls.append(x.shape) or fn(x, z)

    monkeypatch.setattr(Winograd, "_chunked", counted)
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(4, 4, 3, 3, generator=gen)
    spec = ConvSpec.from_weight(w, pads=(1, 1, 1, 1))
    # 3x3 tiles of 36 x 4 floats per image: 5,184 bytes an image
    fn = _small_chunks(WinogradF4, 36 * 4 * 4 * 9).prepare(w, None, spec)
    for batch in (1, 2, 2, 1):
        x = torch.randn(batch, 4, 12, 12, generator=gen)
        assert relative_error(fn(x), reference(x, w, None, spec), x, w) <= 1e-5
    assert calls == [torch.Size([2, 4, 12, 12])] * 2  # the batch of 2 is checked (chunked + whole), then runs chunked; 1 never


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("epilogue", [Epilogue("Relu"), Epilogue("Relu", residual=True)])
def test_chunks_run_in_parallel_on_single_threaded_workers(threads, epilogue, monkeypatch):
    """The torch-op path: with n torch threads the chunks go to n workers (1 torch thread each)."""
    native = False
    """With n torch threads the chunks go to n workers (1 torch thread each); same result, caller's threads restored."""
    import jiasu.kernels.conv.winograd as wg

    gen = torch.Generator().manual_seed(3)
    x = torch.randn(3, 5, 16, 12, generator=gen).contiguous(memory_format=torch.channels_last)
    w, b = torch.randn(8, 5, 3, 3, generator=gen), torch.randn(8, generator=gen)
    spec = ConvSpec.from_weight(w, pads=(1, 1, 1, 1))
    z = torch.randn(3, 8, 16, 12, generator=gen) if epilogue.residual else None
    ref = reference(x, w, b, spec) + (z.double() if z is not None else 0)
    ref = ref.relu()
    seen = []
    real = wg.in_parallel

    def spy(groups, fn):
        seen.append([len(g) for g in groups])
        return real(groups, lambda *c: (seen.append(torch.get_num_threads()), fn(*c)))

    monkeypatch.setattr(wg, "in_parallel", spy)
    fn = _small_chunks(WinogradF4, 36 * 8 * 4 * 3, native).prepare_fused(w, b, spec, epilogue)  # 3 tiles a chunk: one tile row
    torch.set_num_threads(threads)  # the one_thread fixture restores it
    with torch.inference_mode():
        for _ in range(2):  # the checked first call, then the chunked path alone
            y = fn(x, z)
            assert relative_error(y, ref, x, w) <= 1e-5
    assert torch.get_num_threads() == threads
    groups = seen[0]
    assert len(groups) == threads and sum(groups) == 3 * 4  # 3 images x 4 tile rows
    assert set(s for s in seen if not isinstance(s, list)) == {1}  # every chunk ran on a single-threaded worker


@needs_native
@pytest.mark.parametrize("threads", [1, 2])
def test_native_chunks_run_one_after_another_on_all_threads(threads, monkeypatch):
    """The C path never uses the worker pool: chunks in turn, each on all of torch's threads, same result."""
    import jiasu.kernels.conv.winograd as wg

    monkeypatch.setattr(wg, "in_parallel", lambda *a: pytest.fail("the native path used the worker pool"))
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(3, 5, 16, 12, generator=gen).contiguous(memory_format=torch.channels_last)
    w, b = torch.randn(8, 5, 3, 3, generator=gen), torch.randn(8, generator=gen)
    spec = ConvSpec.from_weight(w, pads=(1, 1, 1, 1))
    fn = _small_chunks(WinogradF4, 36 * 5 * 4 * 3, native=True).prepare(w, b, spec)  # 3 tiles a chunk
    torch.set_num_threads(threads)  # the one_thread fixture restores it
    assert relative_error(fn(x), reference(x, w, b, spec), x, w) <= 1e-5
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize("native", PATHS)
def test_chunks_run_one_after_another_on_one_thread(native, monkeypatch):
    import jiasu.kernels.conv.winograd as wg

    monkeypatch.setattr(wg, "in_parallel", lambda *a: pytest.fail("one torch thread: no pool"))
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, 5, 16, 12, generator=gen).contiguous(memory_format=torch.channels_last)
    w = torch.randn(8, 5, 3, 3, generator=gen)
    spec = ConvSpec.from_weight(w, pads=(1, 1, 1, 1))
    fn = _small_chunks(WinogradF4, 36 * 8 * 4 * 3, native).prepare(w, None, spec)
    assert relative_error(fn(x), reference(x, w, None, spec), x, w) <= 1e-5


def test_a_failing_chunk_raises_after_every_worker_is_done():
    import time

    import jiasu.kernels.conv.winograd as wg

    finished = []

    def fn(i0, i1, r0, r1):
        if i0 == 0:
            raise RuntimeError("chunk 0 failed")
        time.sleep(0.05)
        finished.append(i0)

    before = torch.get_num_threads()
    with pytest.raises(RuntimeError, match="chunk 0 failed"):
        wg.in_parallel([[(0, 1, 0, 1)], [(1, 2, 0, 1)]], fn)
    assert finished == [1] and torch.get_num_threads() == before


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_pool():
    """The pool's threads do not survive a fork; the child must make new ones, not queue work on dead ones."""
    import multiprocessing

    import jiasu.kernels.conv.winograd as wg

    wg.in_parallel([[(0, 1, 0, 1)], [(1, 2, 0, 1)]], lambda *c: None)  # the parent's pool exists now
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        assert pool.apply_async(_run_in_parallel_in_child).get(timeout=30) == [0, 1]


def _run_in_parallel_in_child():
    import jiasu.kernels.conv.winograd as wg

    done = []
    wg.in_parallel([[(0, 1, 0, 1)], [(1, 2, 0, 1)]], lambda i0, *rest: done.append(i0))
    return sorted(done)


@pytest.mark.parametrize("native", PATHS)
@pytest.mark.parametrize("r, pads", [(4, (2, 1, 1, 2)), (5, (2, 2, 2, 2)), (6, (0, 0, 0, 0)), (7, (3, 3, 3, 3))])
def test_large_kernels_chunked_match_conv2d(r, pads, native):
    """winograd_large's F(9-r, r) on 8x8 tiles, cut into one-tile chunks, residual and ReLU fused."""
    gen = torch.Generator().manual_seed(r)
    x = torch.randn(2, 6, 15, 13, generator=gen).contiguous(memory_format=torch.channels_last)
    w, b = torch.randn(9, 6, r, r, generator=gen), torch.randn(9, generator=gen)
    spec = ConvSpec.from_weight(w, pads=pads)
    ref = reference(x, w, b, spec)
    z = torch.randn(ref.shape, generator=gen)
    ref = (ref + z.double()).relu()
    fn = _small_chunks(WinogradLarge, 1, native).prepare_fused(w, b, spec, Epilogue("Relu", residual=True))
    for _ in range(2):
        y = fn(x, z)
        assert y.shape == ref.shape and y.is_contiguous(memory_format=torch.channels_last)
        assert relative_error(y, ref, x, w) <= 1e-5


@needs_native
def test_native_conv_in_several_threads_each_with_its_own_scratch():
    """V and M are each calling thread's scratch (``kernels/native/scratch.h``), kept and grown between calls: threads
    running convs of different sizes at once, each twice (the second time a smaller one, in the buffers the first
    grew), all match ``F.conv2d``, and the threads exit (their scratch freed) without harm."""
    import threading

    gen = torch.Generator().manual_seed(11)
    cases = []
    for n, c, size in ((1, 16, 12), (2, 24, 20), (3, 32, 9)):
        x = torch.randn(n, c, size, size, generator=gen).contiguous(memory_format=torch.channels_last)
        w, b = torch.randn(c, c, 3, 3, generator=gen), torch.randn(c, generator=gen)
        spec = ConvSpec.from_weight(w, pads=(1, 1, 1, 1))
        cases.append((x, w, b, spec, WinogradF4().prepare(w, b, spec)))
    errors: list[float] = []

    def work(k):
        for x, w, b, spec, fn in (cases[k], cases[(k + 1) % 3], cases[k]):
            errors.append(relative_error(fn(x), reference(x, w, b, spec), x, w))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 9 and max(errors) <= 1e-5


@needs_native
@pytest.mark.parametrize("n, size, channels", [(2, 22, 64), (4, 30, 32), (5, 30, 20)])
def test_native_conv_threads_take_their_own_tiles(n, size, channels):
    """With U of at most 1 MiB and enough tiles, each of 2 threads takes its own tiles through the transforms and the
    products, a step of tiles at a time in its own scratch (``own_tiles`` in winograd.c): these shapes have 4 steps
    or more, cropped tiles, a channel tail (20), a residual and a ReLU; the result matches ``F.conv2d``."""
    gen = torch.Generator().manual_seed(size + channels)
    x = torch.randn(n, channels, size, size, generator=gen).contiguous(memory_format=torch.channels_last)
    w, b = torch.randn(channels, channels, 3, 3, generator=gen), torch.randn(channels, generator=gen)
    z = torch.randn(n, channels, size, size, generator=gen)
    spec = ConvSpec.from_weight(w, pads=(1, 1, 1, 1))
    fn = WinogradF4().prepare_fused(w, b, spec, Epilogue("Relu", residual=True))
    torch.set_num_threads(2)  # the one_thread fixture restores it
    with torch.inference_mode():
        y = fn(x, z)
    ref = (reference(x, w, b, spec) + z.double()).relu()
    assert relative_error(y, ref, x, w) <= 1e-5
