"""Image sources other than Fashion-MNIST: an image folder, or NumPy arrays on disk.

Used for calibration (quantization) and for training on one's own data. Both
return an :class:`ArrayDataset` of float32 NCHW images scaled to [0, 1]:

- a folder of images (``.png``, ``.jpg``, ``.jpeg``, ``.bmp``): with one
  sub-folder per class (``root/<class>/*.png``, labels follow the sorted class
  names) or flat (``root/*.png``, labels ``-1``);
- a ``.npy`` file of images, or an ``.npz`` with ``images`` (or ``x``) and
  optionally ``labels`` (or ``y``). Integer arrays are pixels (divided by 255);
  float arrays are used as they are. ``(N, H, W)`` gains a channel axis and
  ``(N, H, W, C)`` with C in {1, 3, 4} is moved to NCHW.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..errors import DataError
from .arrays import ArrayDataset

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def load_image_folder(
    root: str | os.PathLike, size: Optional[tuple[int, int]] = None, channels: int = 3, limit: Optional[int] = None
) -> ArrayDataset:
    """Images under ``root`` (see the module docstring), resized to ``size`` (H, W) and given ``channels`` (1 or 3)."""
    from PIL import Image

    root = Path(root)
    if not root.is_dir():
        raise DataError(f"image folder not found: {root}")
    if channels not in (1, 3):
        raise DataError(f"channels must be 1 or 3, got {channels}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and _images(p))
    files: list[tuple[Path, int]] = [(p, -1) for p in _images(root)]
    for label, name in enumerate(classes):
        files += [(p, label) for p in _images(root / name)]
    if not files:
        raise DataError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {root} or its sub-folders")
    files = files[:limit] if limit is not None else files
    arrays = []
    for path, _ in files:
        try:
            with Image.open(path) as im:
                im = im.convert("L" if channels == 1 else "RGB")
                if size is not None:
                    im = im.resize((size[1], size[0]), Image.BILINEAR)
                arrays.append(np.asarray(im, dtype=np.uint8))
        except OSError as e:
            raise DataError(f"cannot read image {path}: {e}") from None
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise DataError(f"images in {root} have different sizes {sorted(shapes)[:3]}...; pass size=(H, W) to resize them")
    images = _to_nchw(np.stack(arrays), str(root))
    labels = torch.tensor([label for _, label in files], dtype=torch.int64)
    return ArrayDataset(images, labels, tuple(classes) or None, root.name)


def _to_nchw(images: np.ndarray, name: str) -> torch.Tensor:
    if images.ndim == 3:
        images = images[:, None]
    elif images.ndim == 4 and images.shape[-1] in (1, 3, 4) and images.shape[1] not in (1, 3, 4):
        images = images.transpose(0, 3, 1, 2)
    if images.ndim != 4:
        raise DataError(f"{name}: images must be (N, H, W), (N, C, H, W) or (N, H, W, C), got shape {images.shape}")
    x = torch.from_numpy(np.ascontiguousarray(images))
    if not torch.is_floating_point(x):
        return x.to(torch.float32).div_(255.0)
    return x.to(torch.float32)


def load_arrays(path: str | os.PathLike, limit: Optional[int] = None) -> ArrayDataset:
    """Images (and labels) from a ``.npy`` or ``.npz`` file (see the module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"array file not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise DataError(f"cannot read {path} as .npy/.npz: {e}") from None
    if isinstance(loaded, np.ndarray):
        images, labels = loaded, None
    else:
        with loaded as z:
            key = next((k for k in ("images", "x") if k in z.files), None)
            if key is None:
                raise DataError(f"{path} has arrays {z.files}; expected 'images' (or 'x') and optionally 'labels' (or 'y')")
            images = z[key]
            lkey = next((k for k in ("labels", "y") if k in z.files), None)
            labels = z[lkey] if lkey else None
    if limit is not None:
        images = images[:limit]
        labels = labels[:limit] if labels is not None else None
    x = _to_nchw(images, str(path))
    y = torch.from_numpy(labels.astype(np.int64)) if labels is not None else torch.full((len(x),), -1, dtype=torch.int64)
    return ArrayDataset(x, y, None, path.stem)
