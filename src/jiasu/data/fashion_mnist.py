"""Fashion-MNIST (Xiao et al. 2017): 28x28 grayscale articles, 10 classes, 60,000 train / 10,000 test.

Nothing is downloaded at run time. The four IDX ``.gz`` files are looked for,
in order, in: an explicit ``root``; ``$JIASU_DATA_DIR`` (the folder itself or
its ``fashion-mnist/``); ``/work/shared/data/fashion-mnist``;
``../shared/data/fashion-mnist`` next to the source checkout; and
``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``).
A 3,000-image subset (200 train + 100 test images per class, the first of each
class in file order) ships inside the package for tests and examples:
:func:`load_subset`.

Images become float32 NCHW ``(N, 1, 28, 28)``: pixels / 255, then, with
``normalize="standard"`` (the default), standardised by the training set's
mean and std (:data:`MEAN`, :data:`STD`); ``normalize="unit"`` stops at [0, 1].
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import DataError
from .arrays import ArrayDataset
from .idx import read_idx

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
#: Pixel mean and std of the 60,000 training images, on the [0, 1] scale.
MEAN, STD = 0.2860, 0.3530
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
SIZES = {"train": 60_000, "test": 10_000}
SUBSET_PATH = Path(__file__).parent / "bundled" / "fashion_mnist_subset.npz"
HOW_TO_GET = (
    "get it with `apt-get install -y dataset-fashion-mnist` (installs /usr/share/datasets/fashion-mnist), "
    "or put the four IDX .gz files from github.com/zalandoresearch/fashion-mnist in a folder and set JIASU_DATA_DIR to it"
)


def search_paths(root: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for the IDX files, in order."""
    paths: list[Path] = []
    if root is not None:
        paths.append(Path(root))
    env = os.environ.get("JIASU_DATA_DIR")
    if env:
        paths += [Path(env), Path(env) / "fashion-mnist"]
    repo = Path(__file__).resolve().parents[3]  # src/jiasu/data/ -> the checkout
    paths += [Path("/work/shared/data/fashion-mnist"), repo.parent / "shared" / "data" / "fashion-mnist"]
    paths.append(Path("/usr/share/datasets/fashion-mnist"))
    return paths


def _file(folder: Path, stem: str) -> Optional[Path]:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def find(root: str | os.PathLike | None = None) -> Path:
    """The first folder holding all four files; a DataError listing every place looked otherwise.

    An explicit ``root`` is the only place looked when given, so a typo is not
    silently replaced by another copy.
    """
    paths = [Path(root)] if root is not None else search_paths()
    stems = [s for pair in FILES.values() for s in pair]
    for folder in paths:
        if all(_file(folder, s) for s in stems):
            return folder
    looked = "\n  ".join(str(p) for p in paths)
    raise DataError(
        f"Fashion-MNIST not found; looked for {', '.join(s + '.gz' for s in stems)} in:\n  {looked}\n"
        f"To fix: {HOW_TO_GET}. Tests and quick runs can use the bundled subset instead (jiasu.data.fashion_mnist.load_subset)."
    )


def available(root: str | os.PathLike | None = None) -> bool:
    """Whether the full dataset can be found (see :func:`find`)."""
    try:
        find(root)
        return True
    except DataError:
        return False


def to_tensor(pixels: np.ndarray, normalize: str = "standard") -> torch.Tensor:
    """uint8 ``(N, 28, 28)`` pixels -> float32 ``(N, 1, 28, 28)`` as the module docstring describes."""
    if normalize not in ("standard", "unit"):
        raise DataError(f"normalize must be 'standard' or 'unit', got {normalize!r}")
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)).div_(255.0).unsqueeze(1)
    return x.sub_(MEAN).div_(STD) if normalize == "standard" else x


def _check_split(split: str) -> None:
    if split not in FILES:
        raise DataError(f"unknown split {split!r}; choose 'train' or 'test'")


def read_raw(split: str = "train", root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images ``(N, 28, 28)`` and labels ``(N,)`` of ``split``, straight from the IDX files."""
    _check_split(split)
    folder = find(root)
    images_stem, labels_stem = FILES[split]
    images = read_idx(_file(folder, images_stem))
    labels = read_idx(_file(folder, labels_stem))
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.ndim != 1 or len(labels) != len(images):
        raise DataError(
            f"{folder}: {split} images {images.shape} and labels {labels.shape} are not N 28x28 images with N labels; re-download them"
        )
    if labels.size and int(labels.max()) >= len(CLASSES):
        raise DataError(f"{folder}: {split} labels go up to {int(labels.max())}, Fashion-MNIST has {len(CLASSES)} classes; re-download them")
    return images, labels


def load(split: str = "train", root: str | os.PathLike | None = None, normalize: str = "standard", limit: Optional[int] = None) -> ArrayDataset:
    """The full ``split`` ('train' or 'test') as a dataset; ``limit`` keeps the first ``limit`` examples."""
    images, labels = read_raw(split, root)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return ArrayDataset(to_tensor(images, normalize), torch.from_numpy(labels.astype(np.int64)), CLASSES, f"fashion-mnist/{split}")


def load_subset(split: str = "train", normalize: str = "standard") -> ArrayDataset:
    """The bundled subset of ``split``: 2,000 train or 1,000 test images, class-balanced."""
    _check_split(split)
    try:
        with np.load(SUBSET_PATH) as z:
            images, labels = z[f"{split}_images"], z[f"{split}_labels"]
    except (OSError, KeyError, ValueError) as e:
        raise DataError(f"the bundled Fashion-MNIST subset {SUBSET_PATH} is missing or corrupt ({e}); reinstall jiasu") from None
    return ArrayDataset(to_tensor(images, normalize), torch.from_numpy(labels.astype(np.int64)), CLASSES, f"fashion-mnist-subset/{split}")


def make_subset(root: str | os.PathLike | None = None, per_class: dict[str, int] | None = None) -> dict[str, np.ndarray]:
    """The arrays of the bundled subset, rebuilt from the full files (the first ``per_class[split]`` images of each class)."""
    per_class = per_class or {"train": 200, "test": 100}
    out: dict[str, np.ndarray] = {}
    for split, n in per_class.items():
        images, labels = read_raw(split, root)
        keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[:n] for c in range(len(CLASSES))]))
        out[f"{split}_images"], out[f"{split}_labels"] = images[keep], labels[keep]
    return out
