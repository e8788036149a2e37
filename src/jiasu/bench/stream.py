"""Streaming throughput: images decoded from disk in the background while the model computes.

:class:`PrefetchLoader` reads and decodes image files (JPEG, PNG) on
``workers`` background threads (Pillow releases the GIL while it decodes and
resizes), assembles batches, and holds at most ``prefetch`` of them in a
bounded queue, so decoding overlaps with compute without running ahead
unboundedly. With ``cache`` the decoded arrays are kept by path, so a second
pass over the same files skips decoding.

:func:`stream_throughput` measures a model end to end (files -> decoded batch
-> outputs) against compute alone on the same, already decoded, batches; the
ratio says how much of the compute throughput survives loading.
:func:`write_images` makes a folder of real images to stream (Fashion-MNIST,
upsampled to the model's size and saved as JPEG or PNG).
:func:`stream_configuration` does this for one benchmark configuration (a
backend and its options, see :mod:`jiasu.bench.config`) and returns a
:class:`StreamRecord`, a failure included, as ``jiasu bench --stream`` prints it.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from ..errors import DataError, JiasuError
from .result import RunRecord

IMAGE_FORMATS = {"jpeg": ".jpg", "png": ".png"}


def write_images(folder: str | os.PathLike, count: int, size: int = 224, fmt: str = "jpeg", quality: int = 90) -> list[Path]:
    """``count`` Fashion-MNIST test images (the bundled subset, cycled) as ``size`` x ``size`` RGB ``fmt`` files."""
    from PIL import Image

    from ..data import fashion_mnist

    if fmt not in IMAGE_FORMATS:
        raise DataError(f"unknown image format {fmt!r}; choose one of: {', '.join(IMAGE_FORMATS)}")
    pixels = (fashion_mnist.load_subset("test", normalize="unit").images[:, 0].numpy() * 255).round().astype(np.uint8)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        image = Image.fromarray(pixels[i % len(pixels)], mode="L").resize((size, size), Image.BILINEAR).convert("RGB")
        path = folder / f"{i:05d}{IMAGE_FORMATS[fmt]}"
        image.save(path, quality=quality) if fmt == "jpeg" else image.save(path)
        paths.append(path)
    return paths


def decode_image(path: str | os.PathLike, size: Optional[tuple[int, int]] = None, channels: int = 3) -> np.ndarray:
    """One image file as float32 ``(channels, H, W)`` in [0, 1], resized to ``size`` (H, W) if given."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image = image.convert("RGB" if channels == 3 else "L")
            if size is not None and image.size != (size[1], size[0]):
                image = image.resize((size[1], size[0]), Image.BILINEAR)
            array = np.asarray(image, dtype=np.float32) / 255.0
    except (OSError, ValueError) as e:
        raise DataError(f"cannot decode image {str(path)!r}: {e}; give JPEG or PNG files") from None
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


class PrefetchLoader:
    """Batches ``(N, C, H, W)`` float32 of decoded images, produced by background workers.

    ``workers`` threads decode whole batches (batch k goes to worker k mod
    workers); at most ``prefetch`` decoded batches wait in the queue. Batches
    come out in order. ``cache`` (a dict, or True for a new one) keeps decoded
    images by path. Iterate it once per pass; an error in a worker is raised
    in the consumer.
    """

    def __init__(self, paths: Sequence[str | os.PathLike], batch: int, size: Optional[tuple[int, int]] = None, channels: int = 3,
                 workers: int = 1, prefetch: int = 2, cache: bool | dict = False,
                 decode: Callable[..., np.ndarray] = decode_image):
        if batch < 1 or workers < 1 or prefetch < 1:
            raise JiasuError(f"batch, workers and prefetch must be >= 1, got {batch}, {workers}, {prefetch}")
        if not paths:
            raise DataError("no image files to stream; give at least one path")
        self.paths = list(paths)
        self.batch, self.size, self.channels = batch, size, channels
        self.workers, self.prefetch = workers, prefetch
        self.cache: Optional[dict] = ({} if cache is True else cache) if cache is not False else None
        self.decode = decode

    def __len__(self) -> int:
        return -(-len(self.paths) // self.batch)

    def _image(self, path) -> np.ndarray:
        if self.cache is not None:
            hit = self.cache.get(path)
            if hit is not None:
                return hit
        array = self.decode(path, self.size, self.channels)
        if self.cache is not None:
            self.cache[path] = array
        return array

    def __iter__(self) -> Iterator[np.ndarray]:
        n = len(self)
        out: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def work(w: int) -> None:
            for k in range(w, n, self.workers):
                if stop.is_set():
                    return
                try:
                    item = (k, np.stack([self._image(p) for p in self.paths[k * self.batch : (k + 1) * self.batch]]))
                except BaseException as e:  # noqa: BLE001 - handed to the consumer
                    item = (k, e)
                while not stop.is_set():
                    try:
                        out.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue

        threads = [threading.Thread(target=work, args=(w,), name=f"jiasu-decode-{w}", daemon=True) for w in range(self.workers)]
        for t in threads:
            t.start()
        waiting: dict[int, Any] = {}
        try:
            for k in range(n):
                while k not in waiting:
                    got, item = out.get()
                    waiting[got] = item
                item = waiting.pop(k)
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            for t in threads:
                t.join()


@dataclass(frozen=True)
class StreamResult:
    """Images per second end to end (decoding included) and on compute alone, and their ratio.

    ``decode_ms_per_image``: wall time of one decode on a loader thread (read,
    decode, resize), from the untimed first pass. ``loader_wait_s``: in the
    best streaming pass, the time the consumer spent waiting for the next
    batch (the loaders fell behind); ``stream_s`` and ``compute_s`` are the
    best passes' durations.
    """

    images: int
    batch: int
    stream_images_per_s: float
    compute_images_per_s: float
    serial_images_per_s: Optional[float]
    ratio: float
    workers: int
    prefetch: int
    cache: bool = False
    stream_s: Optional[float] = None
    compute_s: Optional[float] = None
    loader_wait_s: Optional[float] = None
    decode_ms_per_image: Optional[float] = None

    def to_dict(self) -> dict:
        return asdict(self)


def _runner_fn(target: Any, input_name: Optional[str]) -> Callable[[np.ndarray], Any]:
    run = target.run if hasattr(target, "run") else target
    if input_name is None:
        engine = getattr(target, "engine", target)
        names = [v.name for v in getattr(engine, "inputs", [])]
        if len(names) != 1:
            raise JiasuError("stream_throughput needs input_name for a model without exactly one input")
        input_name = names[0]
    return lambda x: run({input_name: x})


def stream_throughput(target: Any, paths: Sequence[str | os.PathLike], batch: int, size: Optional[tuple[int, int]] = None,
                      channels: int = 3, workers: int = 1, prefetch: int = 2, input_name: Optional[str] = None,
                      serial: bool = True, repeats: int = 2, cache: bool = False, warmup: int = 0) -> StreamResult:
    """Throughput of ``target`` (an engine, a runner, or ``fn(feeds)``) on ``paths``, decoded from disk vs pre-decoded.

    The files are decoded once untimed (which also warms the page cache, so the
    streaming figure measures decoding, not disk latency; the decode time per
    image is taken here) and one batch is run as warm-up, plus ``warmup`` more
    runs. Then compute-only (the decoded batches from memory), streaming
    (:class:`PrefetchLoader`; with ``cache`` it reuses the images decoded in the
    first pass, as a second epoch would), and, with ``serial``,
    decode-then-compute on one thread, each over every file once per repeat,
    interleaved; the best pass of each kind counts.
    """
    run = _runner_fn(target, input_name)
    decode_s: list[float] = []  # list.append is atomic: the loader threads share it

    def timed_decode(path, size, channels):
        start = time.perf_counter()
        array = decode_image(path, size, channels)
        decode_s.append(time.perf_counter() - start)
        return array

    store: dict | bool = {} if cache else False
    decoded = list(PrefetchLoader(paths, batch, size, channels, workers=workers, prefetch=prefetch, cache=store, decode=timed_decode))
    for _ in range(1 + warmup):
        run(decoded[0])

    def compute_pass():
        for x in decoded:
            run(x)

    def stream_pass():
        waited = 0.0
        batches = iter(PrefetchLoader(paths, batch, size, channels, workers=workers, prefetch=prefetch, cache=store))
        while True:
            start = time.perf_counter()
            x = next(batches, None)
            waited += time.perf_counter() - start
            if x is None:
                return waited
            run(x)

    def serial_pass():
        for k in range(len(decoded)):
            run(np.stack([decode_image(p, size, channels) for p in paths[k * batch : (k + 1) * batch]]))

    passes = {"compute": compute_pass, "stream": stream_pass}
    if serial:
        passes["serial"] = serial_pass
    best = {name: float("inf") for name in passes}
    wait = 0.0
    for _ in range(repeats):  # interleaved, so drift in machine load hits every kind alike
        for name, fn in passes.items():
            start = time.perf_counter()
            waited = fn()
            took = time.perf_counter() - start
            if took < best[name]:
                best[name] = took
                if name == "stream":
                    wait = waited
    n = len(paths)
    return StreamResult(n, batch, n / best["stream"], n / best["compute"], n / best["serial"] if serial else None,
                        best["compute"] / best["stream"], workers, prefetch, bool(cache), best["stream"], best["compute"],
                        wait, 1e3 * sum(decode_s) / len(decode_s))


def load_image_paths(folder: str | os.PathLike) -> list[Path]:
    """The JPEG/PNG files directly in ``folder``, sorted; an error naming the folder if there are none."""
    folder = Path(folder)
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")) if folder.is_dir() else []
    if not paths:
        raise DataError(f"no JPEG or PNG files in {str(folder)!r}; give a folder of images")
    return paths


def image_input(model: Any) -> tuple[str, int, tuple[int, int]]:
    """The name, channels and (H, W) of the one image input of ``model`` (a :class:`~jiasu.backends.base.BenchModel`)."""
    from ..frontends.inputs import model_inputs

    inputs = model_inputs(model.ir)
    shapes = [None if v.shape is None else [d if isinstance(d, int) else str(d.value) for d in v.shape] for v in inputs]
    shape = shapes[0] if len(inputs) == 1 else None
    if shape is None or len(shape) != 4 or not all(isinstance(d, int) for d in shape[1:]) or shape[1] not in (1, 3):
        got = ", ".join(f"{v.name} {s}" for v, s in zip(inputs, shapes)) or "no inputs"
        raise JiasuError(f"--stream feeds decoded images: it needs a model with one input of shape (N, 1 or 3, H, W); "
                         f"{model.source} has {got}")
    return inputs[0].name, shape[1], (shape[2], shape[3])


def whole_batches(paths: Sequence[Path], batch: int, where: str) -> list[Path]:
    """The first ``paths`` that fill whole batches (backends compile for one batch size); an error if not one batch."""
    if len(paths) < batch:
        raise DataError(f"{where} holds {len(paths)} image{'s' if len(paths) != 1 else ''}, fewer than one batch of {batch}; "
                        "add images or lower --batch")
    return list(paths[: len(paths) // batch * batch])


# ok: measured. failed: an exception (options, compile, or while streaming; a file that does not decode is one).
# timeout / crashed: the isolated worker ran past the limit or died. unavailable: the backend is not installed.
STREAM_STATUSES = ("ok", "failed", "timeout", "crashed", "unavailable")


@dataclass
class StreamRecord(RunRecord):
    """One configuration streamed at one batch size: the figures of :class:`StreamResult`, or why there are none."""

    STATUSES = STREAM_STATUSES

    images: int = 0
    workers: int = 1
    prefetch: int = 2
    cache: bool = False
    passes: int = 2
    stream_images_per_s: Optional[float] = None
    compute_images_per_s: Optional[float] = None
    ratio: Optional[float] = None
    decode_ms_per_image: Optional[float] = None
    loader_wait_s: Optional[float] = None
    stream_s: Optional[float] = None
    compute_s: Optional[float] = None
    compile_s: Optional[float] = None
    details: dict[str, Any] = field(default_factory=dict)
    isolated: bool = False

    @property
    def loader_wait_share(self) -> Optional[float]:
        """The part of the best streaming pass spent waiting for the loaders."""
        return None if self.loader_wait_s is None or not self.stream_s else self.loader_wait_s / self.stream_s

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "stream", **asdict(self), "loader_wait_share": self.loader_wait_share}


def stream_configuration(backend_cls: Any, config: Any, model: Any, paths: Sequence[str | os.PathLike], batch: int, *,
                         threads: int, workers: int = 2, prefetch: int = 4, cache: bool = False, passes: int = 2,
                         warmup: int = 0, isolate: bool = False, timeout_s: float = 300.0) -> StreamRecord:
    """Stream ``paths`` through one configuration (a :class:`~jiasu.bench.config.Configuration` of ``backend_cls``).

    The backend is compiled for ``model`` (a :class:`~jiasu.backends.base.BenchModel`)
    at ``batch``, then measured by :func:`stream_throughput` (``passes``
    interleaved passes of each kind, no decode-then-compute pass). Every
    failure becomes the record's ``status`` and ``error``, as in the sweep's
    harness. With ``isolate`` it runs in a fresh process (spawn), killed after
    ``timeout_s``; in this process there is no time limit.
    """
    kwargs = dict(backend_cls=backend_cls, config=config, model=model, paths=list(paths), batch=batch, threads=threads,
                  workers=workers, prefetch=prefetch, cache=cache, passes=passes, warmup=warmup)
    if isolate and backend_cls.unavailable_reason() is None:
        return _stream_isolated(kwargs, timeout_s)
    return _stream_here(**kwargs)


def _stream_here(backend_cls, config, model, paths, batch, threads, workers, prefetch, cache, passes, warmup) -> StreamRecord:
    from .harness import _error_text

    record = StreamRecord(model.source, config.label, config.backend, batch, threads=threads, images=len(paths),
                          workers=workers, prefetch=prefetch, cache=cache, passes=passes)
    reason = backend_cls.unavailable_reason()
    if reason:
        record.status, record.error = "unavailable", reason
        return record
    phase, backend = "options", None
    try:
        options = config.resolve(threads, backend_cls)
        record.options = options.to_dict()
        name, channels, size = image_input(model)
        phase = "compile"
        start = time.perf_counter()
        backend = backend_cls()
        backend.compile(model.with_batch(batch), options)
        record.compile_s = time.perf_counter() - start
        phase = "stream"
        r = stream_throughput(backend, paths, batch, size, channels, workers=workers, prefetch=prefetch, input_name=name,
                              serial=False, repeats=passes, cache=cache, warmup=warmup)
        for key in ("stream_images_per_s", "compute_images_per_s", "ratio", "decode_ms_per_image", "loader_wait_s", "stream_s", "compute_s"):
            setattr(record, key, getattr(r, key))
    except Exception as e:  # a failing configuration is a record; KeyboardInterrupt still stops the run
        record.status, record.error = "failed", f"{phase} failed: {_error_text(e)}"
    finally:
        if backend is not None:
            try:
                record.details = backend.details()
            except Exception as e:  # best effort, as in the harness
                record.details = {"details_error": _error_text(e)}
            try:
                backend.close()
            except Exception as e:
                record.details["close_error"] = _error_text(e)
    return record


def _stream_worker(kwargs: dict, out: Any) -> None:
    out.put(_stream_here(**kwargs).to_dict())


def _stream_isolated(kwargs: dict, timeout_s: float) -> StreamRecord:
    from .harness import WorkerLost, receive

    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    config = kwargs["config"]
    proc = ctx.Process(target=_stream_worker, args=(kwargs, out), name=f"jiasu-stream {config.label}", daemon=True)
    proc.start()
    deadline = time.monotonic() + timeout_s  # starting the worker (importing torch) counts too
    message, status, lost = None, None, None
    try:
        message = receive(proc, out, deadline, timeout_s, "streaming")
    except WorkerLost as e:
        status, lost = e.status, e.reason
    proc.join(timeout=10)
    out.close()
    if message is not None:
        record = StreamRecord.from_dict(message)
    else:
        record = StreamRecord(kwargs["model"].source, config.label, config.backend, kwargs["batch"], status=status, error=lost,
                              threads=kwargs["threads"], images=len(kwargs["paths"]), workers=kwargs["workers"],
                              prefetch=kwargs["prefetch"], cache=kwargs["cache"], passes=kwargs["passes"])
    record.isolated = True
    return record


__all__ = ["PrefetchLoader", "StreamRecord", "StreamResult", "decode_image", "image_input", "load_image_paths",
           "stream_configuration", "stream_throughput", "whole_batches", "write_images"]
