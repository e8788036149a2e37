"""Fashion-MNIST loading: IDX parsing checked against the raw bytes, the search order and its errors, the bundled subset."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from jiasu.data import fashion_mnist as fm
from jiasu.data import load_data, parse_idx, read_idx
from jiasu.errors import DataError

needs_full = pytest.mark.skipif(not fm.available(), reason="full Fashion-MNIST not found (apt-get install -y dataset-fashion-mnist)")


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def test_parse_idx_round_trips_a_hand_built_file():
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(parse_idx(idx_bytes(a)), a)


def test_read_idx_reads_gzip_and_raw(tmp_path):
    a = np.random.default_rng(0).integers(0, 256, (5, 7), dtype=np.uint8)
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(a)))
    (tmp_path / "a").write_bytes(idx_bytes(a))
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), a)
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), a)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x01\x02\x08\x01", "x is not an IDX file (bad magic 01020801); re-download it"),
        (b"\x00\x00\x0d\x01", "x holds IDX element type 0x0d; jiasu reads unsigned bytes (0x08) only"),
        (b"\x00\x00\x08\x03\x00\x00", "x is truncated: 6 bytes, shorter than its 16-byte header; re-download it"),
        (
            b"\x00\x00\x08\x01\x00\x00\x00\x05abc",
            "x is corrupt: header says shape (5,) (13 bytes) but the file has 11 bytes; re-download it",
        ),
    ],
)
def test_parse_idx_rejects_bad_files(data, message):
    with pytest.raises(DataError) as e:
        parse_idx(data, "x")
    assert str(e.value) == message


def test_a_broken_gzip_is_a_clear_error(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((2, 28, 28), np.uint8)))[:-12])
    with pytest.raises(DataError, match=r"is not a valid gzip file \(.*\); re-download it$") as e:
        read_idx(path)
    assert str(e.value).startswith(f"{path} is not a valid gzip file")


def test_missing_dataset_lists_where_it_looked_and_how_to_get_it(tmp_path):
    with pytest.raises(DataError) as e:
        fm.load("train", root=tmp_path)
    assert str(e.value) == (
        "Fashion-MNIST not found; looked for train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        f"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz in:\n  {tmp_path}\n"
        f"To fix: {fm.HOW_TO_GET}. Tests and quick runs can use the bundled subset instead (jiasu.data.fashion_mnist.load_subset)."
    )


def test_search_order(monkeypatch, tmp_path):
    monkeypatch.setenv("JIASU_DATA_DIR", str(tmp_path))
    paths = [str(p) for p in fm.search_paths("/explicit")]
    assert paths[:3] == ["/explicit", str(tmp_path), str(tmp_path / "fashion-mnist")]
    assert paths[3] == "/work/shared/data/fashion-mnist"
    assert paths[4].endswith("shared/data/fashion-mnist") and paths[-1] == "/usr/share/datasets/fashion-mnist"


def fake_dataset(folder, n=6, corrupt_labels=False):
    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        if corrupt_labels:
            labels[0] = 12
        img_stem, lab_stem = fm.FILES[split]
        (folder / f"{img_stem}.gz").write_bytes(gzip.compress(idx_bytes(images)))
        (folder / f"{lab_stem}.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    return images, labels


def test_env_var_folder_is_found_and_normalised(monkeypatch, tmp_path):
    images, labels = fake_dataset(tmp_path)
    monkeypatch.setenv("JIASU_DATA_DIR", str(tmp_path))
    assert fm.find() == tmp_path
    data = fm.load("test", root=tmp_path, normalize="unit")
    assert data.images.shape == (6, 1, 28, 28) and data.images.dtype == torch.float32 and data.labels.dtype == torch.int64
    np.testing.assert_allclose(data.images.numpy()[:, 0], images / 255.0, rtol=0, atol=1e-7)
    np.testing.assert_array_equal(data.labels.numpy(), labels)
    std = fm.load("test", root=tmp_path)
    np.testing.assert_allclose(std.images.numpy()[:, 0], (images / 255.0 - fm.MEAN) / fm.STD, rtol=0, atol=1e-5)


def test_out_of_range_labels_are_a_clear_error(tmp_path):
    fake_dataset(tmp_path, corrupt_labels=True)
    with pytest.raises(DataError) as e:
        fm.load("train", root=tmp_path)
    assert str(e.value) == f"{tmp_path}: train labels go up to 12, Fashion-MNIST has 10 classes; re-download them"


def test_unknown_split():
    with pytest.raises(DataError) as e:
        fm.load_subset("validation")
    assert str(e.value) == "unknown split 'validation'; choose 'train' or 'test'"


def test_bundled_subset_is_class_balanced_and_small():
    train, test = fm.load_subset("train"), fm.load_subset("test")
    assert train.images.shape == (2000, 1, 28, 28) and test.images.shape == (1000, 1, 28, 28)
    assert train.labels.bincount().tolist() == [200] * 10 and test.labels.bincount().tolist() == [100] * 10
    assert fm.SUBSET_PATH.stat().st_size < 2_000_000
    assert train.classes == fm.CLASSES and train.num_classes == 10


@needs_full
def test_full_test_split_matches_the_raw_idx_bytes():
    folder = fm.find()
    raw = gzip.decompress((folder / "t10k-images-idx3-ubyte.gz").read_bytes())
    assert raw[:16] == bytes.fromhex("00000803 00002710 0000001c 0000001c".replace(" ", ""))  # 10000 x 28 x 28
    pixels = np.frombuffer(raw, np.uint8, offset=16).reshape(10000, 28, 28)
    labels = np.frombuffer(gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes()), np.uint8, offset=8)
    data = fm.load("test", normalize="unit")
    np.testing.assert_array_equal(np.rint(data.images.numpy()[:, 0] * 255).astype(np.uint8), pixels)
    np.testing.assert_array_equal(data.labels.numpy(), labels)
    assert np.bincount(labels).tolist() == [1000] * 10


@needs_full
def test_full_train_split_statistics():
    data = fm.load("train")
    assert data.images.shape == (60000, 1, 28, 28)
    assert data.labels.bincount().tolist() == [6000] * 10
    # MEAN and STD are the training set's: standardised pixels have mean 0 and std 1.
    assert abs(float(data.images.mean())) < 1e-3 and abs(float(data.images.std()) - 1) < 1e-3


@needs_full
def test_bundled_subset_is_the_first_images_of_each_class():
    rebuilt = fm.make_subset()
    with np.load(fm.SUBSET_PATH) as z:
        for key, value in rebuilt.items():
            np.testing.assert_array_equal(z[key], value)


def test_load_data_dispatch(tmp_path):
    assert len(load_data("fashion-mnist-subset", "test", limit=10)) == 10
    fake_dataset(tmp_path)
    assert len(load_data(tmp_path, "train")) == 6
    with pytest.raises(DataError) as e:
        load_data(tmp_path / "nothing-here")
    assert str(e.value) == (
        f"cannot use {str(tmp_path / 'nothing-here')!r} as data: not found or not a known kind; give fashion-mnist, "
        "fashion-mnist-subset, a folder of Fashion-MNIST IDX files or of images, or a .npy/.npz file"
    )
