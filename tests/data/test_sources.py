"""Image-folder and array sources, and the stratified train/val split."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from jiasu.data import ArrayDataset, load_arrays, load_data, load_image_folder, train_val_split
from jiasu.errors import DataError


def test_image_folder_with_class_subfolders(tmp_path):
    rng = np.random.default_rng(0)
    pixels = {}
    for cls in ("cat", "ant"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            a = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
            Image.fromarray(a).save(tmp_path / cls / f"{i}.png")
            pixels[(cls, i)] = a
    data = load_image_folder(tmp_path)
    assert data.classes == ("ant", "cat") and data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert data.images.shape == (6, 3, 6, 5)
    np.testing.assert_allclose(data.images[3].permute(1, 2, 0).numpy(), pixels[("cat", 0)] / 255.0, atol=1e-7)
    gray = load_image_folder(tmp_path, size=(4, 4), channels=1)
    assert gray.images.shape == (6, 1, 4, 4)


def test_flat_image_folder_has_unknown_labels(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a.png")
    data = load_data(tmp_path)
    assert data.labels.tolist() == [-1] and data.classes is None


def test_image_folders_of_mixed_sizes_need_a_size(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((5, 4), np.uint8)).save(tmp_path / "b.png")
    with pytest.raises(DataError, match=r"have different sizes .*; pass size=\(H, W\) to resize them$"):
        load_image_folder(tmp_path)
    assert load_image_folder(tmp_path, size=(3, 3)).images.shape == (2, 3, 3, 3)


def test_empty_image_folder(tmp_path):
    with pytest.raises(DataError) as e:
        load_image_folder(tmp_path)
    assert str(e.value) == f"no images (.png, .jpg, .jpeg, .bmp) in {tmp_path} or its sub-folders"


def test_arrays_npz_nhwc_uint8_and_npy_float(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", images=x, labels=np.array([3, 1, 2, 0]))
    data = load_arrays(tmp_path / "d.npz")
    assert data.images.shape == (4, 3, 8, 8) and data.labels.tolist() == [3, 1, 2, 0]
    np.testing.assert_allclose(data.images.numpy(), x.transpose(0, 3, 1, 2) / 255.0, atol=1e-7)
    f = np.random.default_rng(1).standard_normal((2, 1, 5, 5)).astype(np.float32)
    np.save(tmp_path / "f.npy", f)
    flt = load_data(tmp_path / "f.npy")
    np.testing.assert_array_equal(flt.images.numpy(), f)
    assert flt.labels.tolist() == [-1, -1]


def test_npz_without_images(tmp_path):
    np.savez(tmp_path / "d.npz", foo=np.zeros(3))
    with pytest.raises(DataError) as e:
        load_arrays(tmp_path / "d.npz")
    assert str(e.value) == f"{tmp_path / 'd.npz'} has arrays ['foo']; expected 'images' (or 'x') and optionally 'labels' (or 'y')"


def test_train_val_split_is_stratified_disjoint_and_seeded():
    labels = torch.arange(100) % 4
    data = ArrayDataset(torch.arange(100.0).reshape(100, 1, 1, 1), labels)
    train, val = train_val_split(data, 0.2, seed=3)
    assert len(train) == 80 and len(val) == 20
    assert val.labels.bincount().tolist() == [5, 5, 5, 5]
    ids = set(train.images.flatten().tolist()) | set(val.images.flatten().tolist())
    assert ids == set(range(100))
    again = train_val_split(data, 0.2, seed=3)[1]
    assert torch.equal(again.images, val.images)
    assert not torch.equal(train_val_split(data, 0.2, seed=4)[1].images, val.images)


def test_array_dataset_checks_shapes():
    with pytest.raises(DataError) as e:
        ArrayDataset(torch.zeros(3, 1, 2, 2), torch.zeros(2))
    assert str(e.value) == "arrays: 3 images but labels of shape (2,)"
