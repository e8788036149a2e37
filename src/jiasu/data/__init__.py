"""Datasets: Fashion-MNIST (full, or the bundled subset), image folders and arrays.

Every source returns an :class:`ArrayDataset` (float32 NCHW images, int64
labels) that feeds ``torch.utils.data.DataLoader`` and :mod:`jiasu.train`.
:func:`load_data` turns the CLI's ``--data`` strings into one:

==========================  ===============================================
``fashion-mnist``           the full dataset, found as ``fashion_mnist.find`` says
``fashion-mnist-subset``    the 3,000-image subset shipped inside jiasu
a folder of IDX files       Fashion-MNIST read from that folder
a folder of images          :func:`load_image_folder` (``size``/``channels`` apply)
``file.npy`` / ``file.npz`` :func:`load_arrays`
==========================  ===============================================
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from ..errors import DataError
from . import fashion_mnist
from .arrays import ArrayDataset, train_val_split
from .idx import parse_idx, read_idx
from .images import load_arrays, load_image_folder

DATA_HELP = "fashion-mnist, fashion-mnist-subset, a folder of Fashion-MNIST IDX files or of images, or a .npy/.npz file"


def load_data(
    spec: str | os.PathLike,
    split: str = "train",
    limit: Optional[int] = None,
    size: Optional[tuple[int, int]] = None,
    channels: int = 3,
) -> ArrayDataset:
    """The dataset named by ``spec`` (see the module docstring); ``split`` applies to Fashion-MNIST only."""
    text = str(spec)
    if text == "fashion-mnist":
        return fashion_mnist.load(split, limit=limit)
    if text == "fashion-mnist-subset":
        data = fashion_mnist.load_subset(split)
        return data.take(limit) if limit is not None else data
    path = Path(text)
    if path.is_dir():
        if fashion_mnist.available(path):
            return fashion_mnist.load(split, root=path, limit=limit)
        return load_image_folder(path, size=size, channels=channels, limit=limit)
    if path.suffix in (".npy", ".npz"):
        return load_arrays(path, limit=limit)
    raise DataError(f"cannot use {text!r} as data: not found or not a known kind; give {DATA_HELP}")


__all__ = [
    "ArrayDataset",
    "DATA_HELP",
    "fashion_mnist",
    "load_arrays",
    "load_data",
    "load_image_folder",
    "parse_idx",
    "read_idx",
    "train_val_split",
]
