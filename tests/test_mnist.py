"""Loading MNIST into tensors: the real files, a fake IDX set, missing and corrupt files."""

import gzip
import hashlib
import logging
import shutil
import struct

import numpy as np
import pytest
import torch
import torchvision

from lib.config import data_root
from lib.mnist import data as mnist_data
from lib.mnist.data import IMAGE_PIXELS, MNIST_FILES, MNISTTensors, load_mnist

HAVE_MNIST = all((data_root() / "MNIST" / "raw" / name).exists() for name in MNIST_FILES)


def _write_idx(folder, prefix, images, labels):
    """Write uncompressed IDX files, the format torchvision extracts the .gz files into."""
    n = len(labels)
    with open(folder / f"{prefix}-images-idx3-ubyte", "wb") as file:
        file.write(struct.pack(">IIII", 2051, n, 28, 28) + images.astype(np.uint8).tobytes())
    with open(folder / f"{prefix}-labels-idx1-ubyte", "wb") as file:
        file.write(struct.pack(">II", 2049, n) + labels.astype(np.uint8).tobytes())


@pytest.fixture
def fake_root(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 12), ("t10k", 5)):
        _write_idx(raw, prefix, rng.integers(0, 256, (n, 28, 28)), rng.integers(0, 10, n))
    return tmp_path


def test_fake_idx_set_loads_as_flat_float_tensors(fake_root):
    train = load_mnist(train=True, root=fake_root, download=False)
    test = load_mnist(train=False, root=fake_root, download=False)
    assert train.images.shape == (12, IMAGE_PIXELS) and test.images.shape == (5, IMAGE_PIXELS)
    assert train.images.dtype == torch.float32 and train.labels.dtype == torch.int64
    assert 0.0 <= train.images.min() and train.images.max() <= 1.0
    raw = torchvision.datasets.MNIST(str(fake_root), train=True).data
    torch.testing.assert_close(train.images[3], raw[3].flatten().float() / 255)


def test_size_keeps_the_first_images(fake_root):
    full = load_mnist(train=True, root=fake_root, download=False)
    part = load_mnist(train=True, root=fake_root, size=4, download=False)
    assert torch.equal(part.images, full.images[:4]) and torch.equal(part.labels, full.labels[:4])
    with pytest.raises(ValueError, match="size must be at most 12"):
        load_mnist(train=True, root=fake_root, size=13, download=False)


@pytest.mark.parametrize("size", [0, -3, 2.5, True])
def test_bad_size_is_refused(size, fake_root):
    with pytest.raises(ValueError, match="size must be a positive integer"):
        load_mnist(train=True, root=fake_root, size=size)


def test_missing_files_name_the_folder_the_variable_and_the_files(tmp_path, monkeypatch):
    def offline(self):
        raise RuntimeError("network unreachable")

    monkeypatch.setattr(torchvision.datasets.MNIST, "download", offline)
    with pytest.raises(FileNotFoundError) as error:
        load_mnist(train=True, root=tmp_path)
    message = str(error.value)
    assert str(tmp_path / "MNIST" / "raw") in message and "DATA_DIR" in message
    assert all(name in message for name in MNIST_FILES)
    with pytest.raises(FileNotFoundError, match="DATA_DIR"):
        load_mnist(train=False, root=tmp_path, download=False)


def test_data_dir_variable_is_the_default_root(fake_root, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(fake_root))
    assert len(load_mnist(train=False, download=False)) == 5


def test_tensor_dataset_checks_shapes():
    with pytest.raises(ValueError, match="images must have shape"):
        MNISTTensors(torch.zeros(3, 10), torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="labels must have shape"):
        MNISTTensors(torch.zeros(3, IMAGE_PIXELS), torch.zeros(4, dtype=torch.int64))


@pytest.mark.skipif(not HAVE_MNIST, reason="the MNIST files are not in the data folder")
def test_real_mnist_has_the_canonical_sizes_and_classes():
    train, test = load_mnist(train=True), load_mnist(train=False)
    assert (len(train), len(test)) == (60_000, 10_000)
    assert torch.equal(torch.unique(test.labels), torch.arange(10))
    assert train.images.max().item() == 1.0 and train.images.min().item() == 0.0
    # the first training image is a 5 (a well-known fact about MNIST's file order)
    assert train.labels[0].item() == 5


# --------------------------------------------------------------------------------------------
# Corrupt files


@pytest.fixture
def archived_root(fake_root, monkeypatch):
    """The fake set with its four ``.gz`` archives, whose MD5 sums stand in for MNIST's."""
    raw = fake_root / "MNIST" / "raw"
    sums = {}
    for name in MNIST_FILES:
        archive = raw / name
        archive.write_bytes(gzip.compress((raw / name.removesuffix(".gz")).read_bytes()))
        sums[name] = hashlib.md5(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(mnist_data, "MNIST_MD5", sums)
    return fake_root


def test_truncated_archive_is_named_with_what_to_delete(archived_root):
    archive = archived_root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    archive.write_bytes(archive.read_bytes()[:-7])
    with pytest.raises(ValueError, match="corrupt or truncated") as error:
        load_mnist(train=False, root=archived_root, download=False)
    assert str(archive) in str(error.value) and "Delete it" in str(error.value)
    assert len(load_mnist(train=True, root=archived_root, download=False)) == 12  # other split


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:8] + bytes([7]) * (len(data) - 8),  # every label a 7, same size
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: b"",  # emptied
    ],
)
def test_damaged_extracted_files_are_extracted_again_from_verified_archives(
    archived_root, damage, caplog
):
    raw = archived_root / "MNIST" / "raw"
    expected = load_mnist(train=False, root=archived_root, download=False)
    extracted = raw / "t10k-labels-idx1-ubyte"
    original = extracted.read_bytes()
    extracted.write_bytes(damage(original))
    with caplog.at_level(logging.INFO, logger="lib.mnist.data"):
        loaded = load_mnist(train=False, root=archived_root, download=False)
    assert torch.equal(loaded.labels, expected.labels)
    assert extracted.read_bytes() == original  # repaired, for torchvision and other readers
    assert "extracted again" in caplog.text


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda data: b"", "shorter than an IDX header"),
        (lambda data: data[:-3], "bytes, expected"),
        (lambda data: data + b"\0", "bytes, expected"),
        (lambda data: struct.pack(">I", 2051) + data[4:], "magic number 2051"),
        (lambda data: data[:8] + bytes([12]) + data[9:], "label 12 outside"),
    ],
)
def test_invalid_extracted_files_without_archives_give_a_clear_error(fake_root, damage, reason):
    extracted = fake_root / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    extracted.write_bytes(damage(extracted.read_bytes()))
    with pytest.raises(ValueError, match=reason) as error:
        load_mnist(train=True, root=fake_root, download=False)
    assert str(extracted) in str(error.value) and "Delete it" in str(error.value)


def test_images_and_labels_of_different_lengths_are_refused(fake_root):
    raw = fake_root / "MNIST" / "raw"
    rng = np.random.default_rng(1)
    _write_idx(raw, "t10k", rng.integers(0, 256, (5, 28, 28)), rng.integers(0, 10, 5))
    (raw / "t10k-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, 4) + bytes(4))
    with pytest.raises(ValueError, match="5 t10k-images-idx3-ubyte images but 4 labels"):
        load_mnist(train=False, root=fake_root, download=False)


def test_published_checksums_are_torchvisions():
    assert mnist_data.MNIST_MD5["train-labels-idx1-ubyte.gz"] == "d53e105ee54ea40749a09fcbcd1e9432"
    assert set(mnist_data.MNIST_MD5) == set(MNIST_FILES)


@pytest.mark.skipif(not HAVE_MNIST, reason="the MNIST files are not in the data folder")
def test_real_labels_all_sevens_at_the_same_size_are_repaired(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(data_root() / "MNIST" / "raw" / name, raw / name)
    sevens = struct.pack(">II", 2049, 10_000) + bytes([7]) * 10_000
    (raw / "t10k-labels-idx1-ubyte").write_bytes(sevens)
    labels = load_mnist(train=False, root=tmp_path, download=False).labels
    assert torch.equal(labels, load_mnist(train=False).labels)
    assert torch.bincount(labels).min() > 800  # every digit, not only 7s
