"""The native kernel build (``jiasu.kernels.native``) and the C Winograd tile transforms against torch."""

from __future__ import annotations

import ctypes
import platform

import pytest
import torch
import torch.nn.functional as F

import jiasu.kernels.native as native
from jiasu.kernels.conv import ConvSpec, Epilogue
from jiasu.kernels.conv.winograd import WinogradF4, WinogradF6, WinogradLarge, _native_library, _tensor, cook_toom

NATIVE = native.status("winograd")
needs_native = pytest.mark.skipif(bool(NATIVE), reason=f"no native kernels here: {NATIVE}")


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """An empty build cache and no library loaded in this process (restored after)."""
    monkeypatch.setenv("JIASU_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(native, "_loaded", {})
    monkeypatch.setattr(native, "_failed", {})
    return tmp_path


@needs_native
def test_built_once_per_source_and_machine_then_loaded_from_the_cache(fresh):
    lib = native.library("winograd")
    assert native.library("winograd") is lib  # the process keeps it
    built = list((fresh / "native").glob("winograd-*.so"))
    assert len(built) == 1
    stamp = built[0].stat().st_mtime_ns
    native._loaded.clear()  # a new process: the cached build is loaded, not rebuilt
    native.library("winograd")
    assert [p.stat().st_mtime_ns for p in (fresh / "native").glob("winograd-*.so")] == [stamp]
    assert not list((fresh / "native").glob(".winograd-*"))  # no temporary left behind


def test_turned_off_by_the_environment(fresh, monkeypatch):
    monkeypatch.setenv(native.ENV, "0")
    with pytest.raises(native.NativeUnavailable, match=r"^native kernels are turned off \(JIASU_NATIVE=0\)$"):
        native.library("winograd")
    assert native.status("winograd") == "native kernels are turned off (JIASU_NATIVE=0)"
    assert _native_library() is None


def test_no_compiler_is_a_clear_reason(fresh, monkeypatch):
    monkeypatch.setenv("CC", "no-such-cc")
    with pytest.raises(native.NativeUnavailable) as info:
        native.library("winograd")
    assert str(info.value) == (
        "no C compiler: 'no-such-cc' is not on PATH (set CC, or install gcc: apt-get install gcc); "
        "jiasu's native kernels are off and their torch fallbacks run instead"
    )
    monkeypatch.delenv("CC")
    with pytest.raises(native.NativeUnavailable, match="no C compiler"):  # remembered for the process
        native.library("winograd")


def test_a_failed_compile_says_so_and_leaves_nothing(fresh, monkeypatch):
    monkeypatch.setenv("CC", "false")  # runs, prints no version, exits 1
    with pytest.raises(native.NativeUnavailable, match=r"^compiling winograd.c with .*false failed"):
        native.library("winograd")
    assert not list((fresh / "native").iterdir())


def test_unknown_source_lists_the_ones_there(fresh):
    with pytest.raises(Exception, match=r"no native source .*nope.c; available: chain, concat, direct, flatten, gemm_conv, gemv, inverted_residual, pointwise, pool, softmax, winograd$"):
        native.library("nope")


@needs_native
def test_an_edited_shared_header_rebuilds(fresh, monkeypatch):
    """The shared headers are part of every build's digest: a changed header gets a new build, not the cached one."""
    sources = fresh / "src"
    sources.mkdir()
    for path in [native._SOURCES / "pool.c", *native._SOURCES.glob("*.h")]:
        (sources / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(native, "_SOURCES", sources)
    native.library("pool")
    native._loaded.clear()
    with open(sources / "vec.h", "a") as f:
        f.write("\n/* edited */\n")
    native.library("pool")
    assert len(list((fresh / "native").glob("pool-*.so"))) == 2


@pytest.mark.parametrize("cls", [WinogradF4, WinogradLarge])
def test_winograd_falls_back_to_torch_ops_where_native_is_off(cls, fresh, monkeypatch):
    monkeypatch.setenv(native.ENV, "0")
    calls = []
    original = cls._whole

    def spy(self, *args):
        calls.append(1)
        return original(self, *args)

    monkeypatch.setattr(cls, "_whole", spy)
    r = cls().kernels[0]
    gen = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(2, 6, 11, 9, generator=gen), torch.randn(7, 6, r, r, generator=gen), torch.randn(7, generator=gen)
    spec = ConvSpec.from_weight(w, pads=(1, 1, 1, 1))
    y = cls().prepare_fused(w, b, spec, Epilogue("Relu"))(x)
    ref = F.conv2d(x.double(), w.double(), b.double(), padding=1).relu()
    assert calls == [1]
    assert ((y - ref).abs().max() / ref.abs().max()).item() <= 1e-5


# The points of winograd.py's F(2x2, 3x3), F(4x4, 3x3) and F(6x6, 3x3) (and the larger kernels on 8x8 tiles).
_POINTS = {4: (0, 1, -1), 6: (0, 1, -1, 0.5, -2), 8: (0, 1, -1, 2, -2, 0.5, -0.5)}


def _lib() -> ctypes.CDLL:
    lib = _native_library()
    assert lib is not None
    return lib


@needs_native
@pytest.mark.parametrize(
    "alpha, m, pads, points",
    [(6, 4, (1, 1), None), (8, 6, (0, 2), None), (4, 2, (1, 0), None), (8, 3, (2, 1), None), (4, 2, (1, 1), (0, 2, -1)), (6, 4, (1, 1), (0, 1, -1, 2, -2))],
)
@pytest.mark.parametrize("channels", [1, 16, 21])  # under one vector, exactly one, one and a remainder
@pytest.mark.parametrize("n, h, w", [(2, 9, 7), (1, 22, 19)])  # tiles on the border only; inside the image too
def test_input_transform_matches_torch(alpha, m, pads, points, channels, n, h, w):
    """V = B^T d B for every tile, padding read as zeros, for a tile range written at an offset (base). winograd.py's
    points (None) run the transforms compiled with their B^T (see winograd.c); other points the general ones."""
    r = alpha - m + 1
    at, g, bt = cook_toom(points or _POINTS[alpha], m, r)
    gen = torch.Generator().manual_seed(alpha * 100 + channels)
    x = torch.randn(n, h, w, channels, generator=gen)
    pt, pl = pads
    ho, wo = h + 2 * pt - r + 1, w + 2 * pl - r + 1
    th, tw = -(-ho // m), -(-wo // m)
    bt_t = _tensor(bt, x, torch.float32).contiguous()
    xp = F.pad(x, (0, 0, pl, pl + tw * m - wo, pt, pt + th * m - ho))
    tiles = xp.unfold(1, alpha, m).unfold(2, alpha, m)  # (n, th, tw, C, alpha, alpha)
    d = tiles.permute(4, 5, 0, 1, 2, 3).reshape(alpha, -1).double()
    bt64 = bt_t.double()
    ref = torch.matmul(bt64, (bt64 @ d).view(alpha, alpha, -1)).view(alpha * alpha, n * th * tw, channels)
    t0, t1 = 3, n * th * tw - 2  # a middle range, stored from row 0 (base = t0)
    v = torch.full((alpha * alpha, t1 - t0, channels), float("nan"))
    assert _lib().jiasu_winograd_input(alpha, x.data_ptr(), h, w, channels, pt, pl, th, tw, m, bt_t.data_ptr(), t0, t1, t0, t1 - t0, v.data_ptr(), 2) == 0
    assert torch.allclose(v.double(), ref[:, t0:t1], rtol=1e-5, atol=1e-5)


@needs_native
@pytest.mark.parametrize("with_bias, with_z, relu", [(False, False, False), (True, False, True), (True, True, True), (False, True, False)])
# winograd.py's points (None): the A^T compiled into winograd.c, except F(3x3, 6x6)'s; other points: the general loops
@pytest.mark.parametrize("alpha, m, points", [(6, 4, None), (8, 6, None), (4, 2, None), (8, 3, None), (4, 2, (0, 2, -1)), (6, 4, (0, 1, -1, 2, -2))])
@pytest.mark.parametrize("co, ho, wo", [(19, 10, 7), (16, 24, 24)])  # cropped tiles and a channel tail; neither
def test_output_transform_matches_torch(with_bias, with_z, relu, alpha, m, points, co, ho, wo):
    """y = relu?(A^T M A + bias + z), cropped to the output size, tiles [t0, t1) only."""
    at, _, _ = cook_toom(points or _POINTS[alpha], m, alpha - m + 1)
    gen = torch.Generator().manual_seed(7)
    n = 2
    th, tw = -(-ho // m), -(-wo // m)
    tiles = n * th * tw
    mm = torch.randn(alpha * alpha, tiles, co, generator=gen)
    at_t = _tensor(at, mm, torch.float32).contiguous()
    bias = torch.randn(co, generator=gen) if with_bias else None
    z = torch.randn(n, ho, wo, co, generator=gen) if with_z else None
    at64 = at_t.double()
    y = torch.matmul(at64, (at64 @ mm.double().view(alpha, -1)).view(m, alpha, -1)).view(m, m, n, th, tw, co)
    ref = y.permute(2, 3, 0, 4, 1, 5).reshape(n, th * m, tw * m, co)[:, :ho, :wo]
    ref = ref + (bias.double() if bias is not None else 0) + (z.double() if z is not None else 0)
    ref = ref.relu() if relu else ref
    out = torch.full((n, ho, wo, co), float("nan"))
    lib = _lib()
    half = tiles // 2  # two calls, each on its own range of tiles, the second from an offset buffer
    for t0, t1 in ((0, half), (half, tiles)):
        part = mm[:, t0:t1].contiguous()
        rc = lib.jiasu_winograd_output(alpha, part.data_ptr(), t1 - t0, co, at_t.data_ptr(), m, bias.data_ptr() if bias is not None else None,
                                       z.data_ptr() if z is not None else None, int(relu), out.data_ptr(), ho, wo, th, tw, t0, t1, t0, 1)
        assert rc == 0
    # F(6x6)'s A^T has entries up to 32: outputs of random M reach thousands, and float32 sums of such terms are
    # exact to about 1e-7 of the largest, not of each output.
    assert torch.allclose(out.double(), ref, rtol=1e-5, atol=1e-6 * ref.abs().max().item())


@needs_native
def test_unsupported_tile_size_writes_nothing():
    v = torch.zeros(25, 1, 1)
    x = torch.ones(1, 5, 5, 1)
    bt = torch.eye(5)
    assert _lib().jiasu_winograd_input(5, x.data_ptr(), 5, 5, 1, 0, 0, 1, 1, 1, bt.data_ptr(), 0, 1, 0, 1, v.data_ptr(), 1) == -1
    assert not v.any()


@needs_native
@pytest.mark.parametrize("cls, r, bound", [(WinogradF4, 3, 1e-5), (WinogradF6, 3, 3e-5), (WinogradLarge, 4, 3e-5), (WinogradLarge, 5, 3e-5), (WinogradLarge, 6, 3e-5), (WinogradLarge, 7, 3e-5)])
def test_error_on_a_realistic_layer(cls, r, bound):
    """Float32 error relative to max |y| against float64, 48->48 channels on 30x30, Kaiming weights.

    Measured (seed 0): F(4x4, 3x3) 2.0e-6, F(6x6, 3x3) 9.1e-6, F(5x5, 4x4) 6.5e-6, F(4x4, 5x5)
    4.8e-6, F(3x3, 6x6) 4.8e-6, F(2x2, 7x7) 4.9e-6: the 8x8-tile forms share one set of points and
    stay within 1e-5.
    """
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 48, 30, 30, generator=gen).contiguous(memory_format=torch.channels_last)
    w = torch.randn(48, 48, r, r, generator=gen) * (2 / (48 * r * r)) ** 0.5
    spec = ConvSpec.from_weight(w, pads=(r // 2, r // 2, (r - 1) // 2, (r - 1) // 2))
    y = cls().prepare(w, None, spec)(x)
    ref = F.conv2d(F.pad(x.double(), (r // 2, (r - 1) // 2, r // 2, (r - 1) // 2)), w.double())
    assert y.shape == ref.shape
    assert ((y.double() - ref).abs().max() / ref.abs().max()).item() <= bound


@needs_native
@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="an x86 -march level")
def test_extra_flags_build_apart_and_4_float_vectors_compute_the_same(fresh, monkeypatch):
    """JIASU_NATIVE_CFLAGS is part of the build's digest, and the kernels built for SSE only (vec.h then
    takes vectors of 4 floats; AVX2 hosts run 8, AVX-512 hosts 16) agree with torch: a 1x1 conv with 24
    output channels (whole vectors at 4 and 8, a partial one at 16)."""
    from jiasu.kernels.conv import CONV_ALGORITHMS

    cc = native._compiler()
    default = native._digest(b"source", cc)
    monkeypatch.setenv("JIASU_NATIVE_CFLAGS", "-march=x86-64-v2")
    assert native._digest(b"source", cc) != default
    gen = torch.Generator().manual_seed(0)
    spec = ConvSpec(40, 24, (1, 1), (1, 1), (1, 1), (0, 0, 0, 0), 1)
    w, b = torch.randn(24, 40, 1, 1, generator=gen), torch.randn(24, generator=gen)
    x = torch.randn(2, 40, 5, 7, generator=gen).contiguous(memory_format=torch.channels_last)
    y = CONV_ALGORITHMS["pointwise"].prepare_fused(w, b, spec, Epilogue("Relu", ()))(x)
    assert native._loaded["pointwise"]._name == str(native._build("pointwise"))  # the SSE build ran
    torch.testing.assert_close(y, F.relu(F.conv2d(x, w, b)), rtol=1e-5, atol=1e-5)


@needs_native
def test_a_kernel_call_runs_from_python_as_a_chain_would_run_it():
    """NativeCall.invoke fills the In/Out markers with the tensors' memory and calls the C function: Flatten's
    transposition of a channels_last batch, the same call a chain runs. A view and a call with scratch memory
    refuse, with the reason."""
    from jiasu.kernels.native.call import In, NativeCall, Out, Scratch
    from jiasu.kernels.ops.flatten import _library

    x = torch.randn(2, 5, 3, 4).contiguous(memory_format=torch.channels_last)
    y = torch.empty(2, 60)
    call = NativeCall.of(_library(), "jiasu_flatten_nhwc", (In(0), 2, 12, 5, Out(0), 1))
    assert call.invoke((x,), (y,)) == 0
    assert torch.equal(y, x.reshape(2, 60))
    with pytest.raises(ValueError, match="a view runs nothing"):
        NativeCall.view(0).invoke((x,), (y,))
    scratch = NativeCall.of(_library(), "jiasu_flatten_nhwc", (In(0), 2, 12, 5, Scratch(60), 1))
    with pytest.raises(ValueError, match="scratch memory runs only in a chain"):
        scratch.invoke((x,), (y,))
