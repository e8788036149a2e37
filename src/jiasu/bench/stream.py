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
"""

from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from ..errors import DataError, JiasuError

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
    """Images per second end to end (decoding included) and on compute alone, and their ratio."""

    images: int
    batch: int
    stream_images_per_s: float
    compute_images_per_s: float
    serial_images_per_s: Optional[float]
    ratio: float
    workers: int
    prefetch: int

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
                      serial: bool = True, repeats: int = 2) -> StreamResult:
    """Throughput of ``target`` (an engine, a runner, or ``fn(feeds)``) on ``paths``, decoded from disk vs pre-decoded.

    The files are decoded once untimed (which also warms the page cache, so the
    streaming figure measures decoding, not disk latency) and one batch is run
    as warm-up. Then compute-only (the decoded batches from memory), streaming
    (:class:`PrefetchLoader`, no cache), and, with ``serial``, decode-then-compute
    on one thread, each over every file once per repeat, interleaved; the best
    pass of each kind counts.
    """
    run = _runner_fn(target, input_name)
    decoded = list(PrefetchLoader(paths, batch, size, channels, workers=workers, prefetch=prefetch))
    run(decoded[0])

    def compute_pass():
        for x in decoded:
            run(x)

    def stream_pass():
        for x in PrefetchLoader(paths, batch, size, channels, workers=workers, prefetch=prefetch):
            run(x)

    def serial_pass():
        for k in range(len(decoded)):
            run(np.stack([decode_image(p, size, channels) for p in paths[k * batch : (k + 1) * batch]]))

    passes = {"compute": compute_pass, "stream": stream_pass}
    if serial:
        passes["serial"] = serial_pass
    best = {name: float("inf") for name in passes}
    for _ in range(repeats):  # interleaved, so drift in machine load hits every kind alike
        for name, fn in passes.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    n = len(paths)
    return StreamResult(n, batch, n / best["stream"], n / best["compute"], n / best["serial"] if serial else None,
                        best["compute"] / best["stream"], workers, prefetch)


def load_image_paths(folder: str | os.PathLike) -> list[Path]:
    """The JPEG/PNG files directly in ``folder``, sorted; an error naming the folder if there are none."""
    folder = Path(folder)
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png")) if folder.is_dir() else []
    if not paths:
        raise DataError(f"no JPEG or PNG files in {str(folder)!r}; give a folder of images")
    return paths


__all__ = ["PrefetchLoader", "StreamResult", "decode_image", "load_image_paths", "stream_throughput", "write_images"]
