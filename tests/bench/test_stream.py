"""The data pipeline: files written and decoded right, batches in order, bounded prefetch, cache, overlap."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

import jiasu
from jiasu.bench.stream import PrefetchLoader, decode_image, load_image_paths, stream_throughput, write_images
from jiasu.data import fashion_mnist
from jiasu.errors import DataError


def source_pixels(n: int, size: int) -> np.ndarray:
    """What write_images encodes: Fashion-MNIST test images upsampled with Pillow, as floats (N, H, W)."""
    pixels = (fashion_mnist.load_subset("test", normalize="unit").images[:n, 0].numpy() * 255).round().astype(np.uint8)
    return np.stack([np.asarray(Image.fromarray(p, mode="L").resize((size, size), Image.BILINEAR), np.float32) / 255 for p in pixels])


def test_png_round_trips_exactly_and_jpeg_closely(tmp_path):
    want = source_pixels(3, 40)
    png = write_images(tmp_path / "png", 3, size=40, fmt="png")
    jpeg = write_images(tmp_path / "jpeg", 3, size=40, fmt="jpeg")
    assert [p.name for p in png] == ["00000.png", "00001.png", "00002.png"]
    for i in range(3):
        x = decode_image(png[i])
        assert x.shape == (3, 40, 40) and x.dtype == np.float32
        np.testing.assert_array_equal(x[0], want[i])
        np.testing.assert_array_equal(x[1], x[2])
        y = decode_image(jpeg[i], size=(40, 40), channels=1)
        assert y.shape == (1, 40, 40)
        assert np.abs(y[0] - want[i]).mean() < 0.02
    assert load_image_paths(tmp_path / "png") == png


def test_loader_yields_every_batch_in_order(tmp_path):
    paths = write_images(tmp_path, 10, size=16, fmt="png")
    direct = np.stack([decode_image(p) for p in paths])
    for workers in (1, 3):
        batches = list(PrefetchLoader(paths, batch=4, workers=workers, prefetch=1))
        assert [b.shape[0] for b in batches] == [4, 4, 2]
        np.testing.assert_array_equal(np.concatenate(batches), direct)


def test_cache_skips_decoding_on_the_second_pass(tmp_path):
    paths = write_images(tmp_path, 6, size=16, fmt="png")
    calls = []

    def counting(path, size, channels):
        calls.append(path)
        return decode_image(path, size, channels)

    loader = PrefetchLoader(paths, batch=2, workers=2, cache=True, decode=counting)
    first = np.concatenate(list(loader))
    second = np.concatenate(list(loader))
    np.testing.assert_array_equal(first, second)
    assert sorted(calls) == sorted(paths)
    assert len(loader.cache) == 6


def test_prefetch_is_bounded(tmp_path):
    paths = [f"img{i}" for i in range(40)]
    decoded = []
    lock = threading.Lock()

    def fake(path, size, channels):
        with lock:
            decoded.append(path)
        return np.zeros((1, 2, 2), np.float32)

    it = iter(PrefetchLoader(paths, batch=2, workers=1, prefetch=2, decode=fake))
    next(it)
    time.sleep(0.3)  # a slow consumer: the worker may fill the queue, then must wait
    # one batch consumed, two queued, one decoded and waiting to be queued: 4 batches of 2
    assert len(decoded) <= 8
    assert len(list(it)) == 19


def test_background_decoding_overlaps_with_compute():
    paths = [f"img{i}" for i in range(24)]

    def slow_decode(path, size, channels):
        time.sleep(0.01)  # sleeping releases the GIL, as Pillow's decoder does
        return np.zeros((1, 2, 2), np.float32)

    def compute(batch):
        time.sleep(0.04)

    start = time.perf_counter()
    for b in PrefetchLoader(paths, batch=4, workers=1, prefetch=2, decode=slow_decode):
        compute(b)
    overlapped = time.perf_counter() - start
    serial = 6 * (4 * 0.01 + 0.04)  # 0.48 s: decode then compute, batch after batch
    assert overlapped < 0.8 * serial, f"no overlap: {overlapped:.3f}s vs {serial:.3f}s serial"


def test_a_corrupt_file_names_itself(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(DataError) as info:
        list(PrefetchLoader([bad], batch=1))
    assert str(info.value).startswith(f"cannot decode image {str(bad)!r}: ")
    assert str(info.value).endswith("; give JPEG or PNG files")
    with pytest.raises(DataError) as info:
        load_image_paths(tmp_path / "none")
    assert str(info.value) == f"no JPEG or PNG files in {str(tmp_path / 'none')!r}; give a folder of images"


def test_stream_throughput_runs_a_model_from_files(tmp_path):
    model = jiasu.load("zoo:smallcnn")
    engine = jiasu.Engine(model)
    paths = write_images(tmp_path, 16, size=88, fmt="png")
    r = stream_throughput(engine, paths, batch=8, size=(88, 88), channels=1, repeats=1)
    assert r.images == 16 and r.batch == 8
    assert r.stream_images_per_s > 0 and r.compute_images_per_s > 0 and r.serial_images_per_s > 0
    assert r.ratio == pytest.approx(r.stream_images_per_s / r.compute_images_per_s)
    # The streamed batches are the decoded files: the model's outputs on them match a direct run.
    first = next(iter(PrefetchLoader(paths, batch=8, size=(88, 88), channels=1)))
    np.testing.assert_allclose(engine.run_numpy({"input": first})["output"],
                               engine.run_numpy({"input": np.stack([decode_image(p, (88, 88), 1) for p in paths[:8]])})["output"])


# ---- one benchmark configuration streamed (jiasu bench --stream) ------------------------------

TINY = "zoo:smallcnn?image_size=28&num_classes=10&padding=2"


@pytest.fixture(scope="module")
def tiny_model():
    from jiasu.backends.base import BenchModel

    return BenchModel.load(TINY)


@pytest.fixture(scope="module")
def tiny_images(tmp_path_factory):
    return write_images(tmp_path_factory.mktemp("tiny"), 8, size=28, fmt="jpeg")


def test_stream_configuration_measures_both_throughputs_and_the_wait(tiny_model, tiny_images):
    from jiasu.backends.jiasu_engine import JiasuBackend
    from jiasu.bench import parse_configuration
    from jiasu.bench.stream import stream_configuration

    (config,) = parse_configuration("jiasu")
    r = stream_configuration(JiasuBackend, config, tiny_model, tiny_images, 4, threads=1, workers=2, prefetch=2, passes=1)
    assert r.status == "ok", r.error
    assert (r.configuration, r.batch, r.images, r.workers, r.prefetch, r.cache) == ("jiasu", 4, 8, 2, 2, False)
    assert r.stream_images_per_s > 0 and r.compute_images_per_s > 0
    assert r.ratio == pytest.approx(r.stream_images_per_s / r.compute_images_per_s)
    assert r.decode_ms_per_image > 0 and r.compile_s > 0
    assert 0 <= r.loader_wait_s <= r.stream_s and 0 <= r.loader_wait_share <= 1
    assert r.stream_images_per_s == pytest.approx(8 / r.stream_s)
    record = r.to_dict()
    assert record["kind"] == "stream" and record["options"]["threads"] == 1
    assert type(r).from_dict(record) == r


def test_stream_with_cache_reuses_the_first_pass(tiny_model, tiny_images):
    engine = jiasu.Engine(tiny_model.ir)
    r = stream_throughput(engine, tiny_images, 4, (28, 28), 1, workers=1, serial=False, repeats=1, cache=True)
    assert r.cache and r.images == 8 and r.serial_images_per_s is None and r.decode_ms_per_image > 0


@pytest.mark.parametrize(
    "backend, status, error",
    [
        ("broken", "failed", "compile failed: RuntimeError: no kernel for Relu"),
        ("notinstalled", "unavailable", "backend 'notinstalled' needs the Python package jiasu_no_such_package; "
                                        "install with: pip install jiasu-no-such-package"),
    ],
)
def test_a_failing_configuration_is_a_record(tiny_model, tiny_images, backend, status, error):
    from jiasu.backends import get_backend
    from jiasu.bench import parse_configuration
    from jiasu.bench.stream import stream_configuration

    (config,) = parse_configuration(backend)
    r = stream_configuration(get_backend(backend), config, tiny_model, tiny_images, 4, threads=1, passes=1)
    assert (r.status, r.error) == (status, error)
    assert r.stream_images_per_s is None and r.ratio is None


def test_a_crash_in_an_isolated_worker_is_a_record(tiny_model, tiny_images):
    from jiasu.bench import parse_configuration
    from jiasu.bench.stream import stream_configuration

    from .fakes import CrashBackend

    (config,) = parse_configuration("crashy")
    r = stream_configuration(CrashBackend, config, tiny_model, tiny_images, 4, threads=1, passes=1, isolate=True, timeout_s=60)
    assert r.isolated and r.status == "crashed"
    assert r.error == "the worker process died (exit code 3) while streaming"


def test_stream_needs_one_image_input_and_one_whole_batch(tmp_path):
    from jiasu.bench.stream import image_input, whole_batches
    from jiasu.errors import JiasuError

    from .fakes import relu_model

    with pytest.raises(JiasuError) as info:
        image_input(relu_model())
    assert str(info.value) == ("--stream feeds decoded images: it needs a model with one input of shape (N, 1 or 3, H, W); "
                               "relu has x ['N', 4]")
    paths = [tmp_path / f"{i}.png" for i in range(5)]
    assert whole_batches(paths, 2, "--images x") == paths[:4]
    with pytest.raises(DataError) as info:
        whole_batches(paths, 8, "--images x")
    assert str(info.value) == "--images x holds 5 images, fewer than one batch of 8; add images or lower --batch"
