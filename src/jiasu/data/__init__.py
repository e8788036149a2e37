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


def train_and_validation(spec: str | os.PathLike, input_shape, limit: Optional[int] = None) -> tuple[ArrayDataset, ArrayDataset]:
    """(training, validation) data from ``spec`` for a model taking ``input_shape`` (N, C, H, W).

    Fashion-MNIST (full or the bundled subset, or a folder of its files) validates on its test split;
    other sources give up 10% of their images (stratified, seeded). ``limit`` caps the training images.
    """
    size = tuple(input_shape[-2:])
    channels = int(input_shape[1])
    text = str(spec)
    train = load_data(text, "train", limit=limit, size=size, channels=channels)
    if text in ("fashion-mnist", "fashion-mnist-subset") or Path(text).is_dir() and fashion_mnist.available(text):
        val = load_data(text, "test", size=size, channels=channels)
    else:
        train, val = train_val_split(train, 0.1)
    if tuple(train.input_shape) != tuple(input_shape[1:]):
        raise DataError(f"the data's images are {train.input_shape} but the model takes {tuple(input_shape[1:])}; pick a matching zoo option (image_size, in_channels)")
    return train, val


__all__ = [
    "ArrayDataset",
    "DATA_HELP",
    "fashion_mnist",
    "load_arrays",
    "load_data",
    "train_and_validation",
    "load_image_folder",
    "parse_idx",
    "read_idx",
    "train_val_split",
]
