"""``onednn``: the weight is packed once per (input shape, thread count), never again on later calls."""

from __future__ import annotations

import pytest
import torch

from jiasu.kernels.conv import CONV_ALGORITHMS, ConvSpec, Epilogue
from jiasu.kernels.conv import onednn

from .test_algorithms import reference, relative_error

pytestmark = pytest.mark.skipif(not onednn.available(), reason="this torch build has no oneDNN")


@pytest.fixture
def packs(monkeypatch):
    """Every call of ``onednn.pack_weight``, as (input size, threads)."""
    calls = []
    real = onednn.pack_weight

    def counting(weight, padding, stride, dilation, groups, input_size):
        calls.append((tuple(input_size), torch.get_num_threads()))
        return real(weight, padding, stride, dilation, groups, input_size)

    monkeypatch.setattr(onednn, "pack_weight", counting)
    return calls


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("residual", [False, True])
def test_packs_once_per_shape_and_thread_count(packs, restore_threads, residual):
    spec = ConvSpec(16, 16, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1)
    gen = torch.Generator().manual_seed(0)
    w, b = torch.randn(16, 16, 3, 3, generator=gen), torch.randn(16, generator=gen)
    fn = CONV_ALGORITHMS["onednn"].prepare_fused(w, b, spec, Epilogue("", (), residual))
    x = torch.randn(1, 16, 5, 5, generator=gen)
    x8 = torch.randn(2, 16, 5, 5, generator=gen)
    z = torch.zeros(1, 16, 5, 5) if residual else None
    z8 = torch.zeros(2, 16, 5, 5) if residual else None
    torch.set_num_threads(1)
    for _ in range(3):
        fn(x, z)
    assert packs == [((1, 16, 5, 5), 1)]
    fn(x8, z8)
    fn(x, z)
    assert packs == [((1, 16, 5, 5), 1), ((2, 16, 5, 5), 1)]
    # Another thread count: oneDNN may pick another kernel and weight layout there, so it gets its own packing...
    torch.set_num_threads(2)
    y = fn(x, z)
    assert packs[-1] == ((1, 16, 5, 5), 2) and len(packs) == 3
    assert relative_error(y, reference(x, w, b, spec), x, w) <= 1e-5
    # ...and switching back and forth packs nothing more.
    for threads in (1, 2, 1, 2):
        torch.set_num_threads(threads)
        y = fn(x, z)
        assert relative_error(y, reference(x, w, b, spec), x, w) <= 1e-5
    assert len(packs) == 3


@pytest.mark.parametrize("supported", [True, False])
def test_bfloat16_is_declined_where_the_cpu_cannot_run_it(monkeypatch, supported):
    """On an AVX2-only CPU oneDNN's bf16 conv raises inside the call; ``check`` declines it there so another
    algorithm runs, and float32 is unaffected."""
    monkeypatch.setattr(onednn, "bf16_supported", lambda: supported)
    spec = ConvSpec(16, 16, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1, torch.bfloat16)
    reason = CONV_ALGORITHMS["onednn"].check(spec)
    expected = None if supported else (
        "bfloat16, and this CPU lacks what oneDNN's bfloat16 convolution needs (AVX-512 BW/VL/DQ or AVX-NE-CONVERT)"
    )
    assert reason == expected
    assert CONV_ALGORITHMS["onednn"].check(ConvSpec(16, 16, (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1, torch.float32)) is None
