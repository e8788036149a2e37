"""In-memory image datasets: the one container every jiasu data source returns.

An :class:`ArrayDataset` holds ``images`` (float32, NCHW) and ``labels`` (int64,
``-1`` where unknown, as for an unlabelled calibration folder) as torch tensors.
It is a ``torch.utils.data.Dataset``, so it feeds a ``DataLoader`` directly, and
``.numpy()`` hands the arrays to ONNX Runtime or a calibrator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DataError


@dataclass
class ArrayDataset(Dataset):
    """``images[i], labels[i]`` pairs; ``classes`` names the label values when known."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: Optional[tuple[str, ...]] = None
    name: str = "arrays"

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise DataError(f"{self.name}: images must be NCHW (4-D), got shape {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise DataError(f"{self.name}: {self.images.shape[0]} images but labels of shape {tuple(self.labels.shape)}")
        self.images = self.images.to(torch.float32)
        self.labels = self.labels.to(torch.int64)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i):
        return self.images[i], self.labels[i]

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one image (C, H, W)."""
        return tuple(int(d) for d in self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes) if self.classes else int(self.labels.max()) + 1

    def numpy(self) -> tuple[np.ndarray, np.ndarray]:
        return self.images.numpy(), self.labels.numpy()

    def subset(self, indices, name: Optional[str] = None) -> "ArrayDataset":
        """The examples at ``indices`` (a list, tensor or slice) as a new dataset."""
        idx = torch.as_tensor(indices) if not isinstance(indices, slice) else indices
        return ArrayDataset(self.images[idx], self.labels[idx], self.classes, name or self.name)

    def take(self, n: int) -> "ArrayDataset":
        """The first ``n`` examples (all of them if there are fewer)."""
        return self.subset(slice(0, n), f"{self.name}[:{n}]")


def train_val_split(data: ArrayDataset, val_fraction: float = 0.1, seed: int = 0) -> tuple[ArrayDataset, ArrayDataset]:
    """Split ``data`` at random (seeded) into train and validation parts, stratified by label.

    Each class contributes ``round(val_fraction * count)`` examples to the
    validation part, so both parts keep the class balance of ``data``.
    """
    if not 0.0 < val_fraction < 1.0:
        raise DataError(f"val_fraction must be in (0, 1), got {val_fraction}")
    gen = torch.Generator().manual_seed(seed)
    val_idx: list[torch.Tensor] = []
    train_idx: list[torch.Tensor] = []
    for label in torch.unique(data.labels):
        idx = torch.nonzero(data.labels == label).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        k = int(round(val_fraction * len(idx)))
        val_idx.append(idx[:k])
        train_idx.append(idx[k:])
    tr, va = torch.cat(train_idx).sort().values, torch.cat(val_idx).sort().values
    if len(tr) == 0 or len(va) == 0:
        raise DataError(f"{data.name}: {len(data)} examples are too few to split with val_fraction={val_fraction}")
    return data.subset(tr, f"{data.name}/train"), data.subset(va, f"{data.name}/val")
