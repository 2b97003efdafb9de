"""Loading MNIST into tensors: a fake archived set, the real archives, missing and damaged files."""

import gzip
import hashlib
import shutil
import struct

import numpy as np
import pytest
import torch
import torchvision

from lib.config import data_root
from lib.mnist import data as mnist_data
from lib.mnist.data import IMAGE_PIXELS, MNIST_FILES, load_mnist

HAVE_MNIST = all((data_root() / "MNIST" / "raw" / name).exists() for name in MNIST_FILES)


@pytest.fixture
def fake_root(tmp_path, monkeypatch):
    """A tiny MNIST-shaped set as four gzipped IDX archives, whose MD5 sums stand in for
    MNIST's; returns the root and the arrays written."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    arrays, sums = {}, {}
    for prefix, n in (("train", 12), ("t10k", 5)):
        images, labels = rng.integers(0, 256, (n, 28, 28)), rng.integers(0, 10, n)
        arrays[prefix] = images, labels
        for kind, magic, array in (("images-idx3", 2051, images), ("labels-idx1", 2049, labels)):
            header = struct.pack(">I", magic) + struct.pack(">I", n)
            header += struct.pack(">II", 28, 28) if kind.startswith("images") else b""
            name = f"{prefix}-{kind}-ubyte.gz"
            (raw / name).write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))
            sums[name] = hashlib.md5((raw / name).read_bytes()).hexdigest()
    monkeypatch.setattr(mnist_data, "MNIST_MD5", sums)
    return tmp_path, arrays


def test_a_fake_set_loads_as_flat_float_tensors_and_size_keeps_the_first(fake_root):
    root, arrays = fake_root
    data = load_mnist(train=True, root=root, download=False)
    images, labels = arrays["train"]
    assert data.images.dtype == torch.float32 and data.labels.dtype == torch.int64
    assert torch.equal(data.images, torch.tensor(images.reshape(12, IMAGE_PIXELS) / 255.0).float())
    assert data.labels.tolist() == labels.tolist()
    assert len(load_mnist(train=False, size=3, root=root, download=False)) == 3


def test_missing_files_name_the_folder_the_variable_and_the_files(tmp_path):
    with pytest.raises(FileNotFoundError) as error:
        load_mnist(train=True, root=tmp_path, download=False)
    message = str(error.value)
    assert str(tmp_path / "MNIST" / "raw") in message and "DATA_DIR" in message
    assert all(name in message for name in MNIST_FILES)


def test_a_truncated_archive_is_named_and_the_other_split_still_loads(fake_root):
    root, _ = fake_root
    archive = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    archive.write_bytes(archive.read_bytes()[:-7])
    with pytest.raises(ValueError, match="damaged or truncated") as error:
        load_mnist(train=False, root=root, download=False)
    assert str(archive) in str(error.value) and "Delete it" in str(error.value)
    assert len(load_mnist(train=True, root=root, download=False)) == 12


def test_a_damaged_extracted_copy_is_never_read(fake_root):
    root, arrays = fake_root
    (root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").write_bytes(b"every label a 7")
    labels = load_mnist(train=False, root=root, download=False).labels
    assert labels.tolist() == arrays["t10k"][1].tolist()


@pytest.mark.skipif(not HAVE_MNIST, reason="the MNIST files are not in the data folder")
def test_real_mnist_equals_torchvisions_dataset(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES:
        shutil.copyfile(data_root() / "MNIST" / "raw" / name, raw / name)
    ours = load_mnist(train=False, root=tmp_path, download=False)
    theirs = torchvision.datasets.MNIST(str(tmp_path), train=False, download=True)  # extracts
    assert (
        len(ours) == 10_000
        and torch.bincount(ours.labels).tolist() == torch.bincount(theirs.targets).tolist()
    )
    assert torch.equal(ours.images, theirs.data.reshape(10_000, IMAGE_PIXELS).float() / 255)
    assert torch.equal(ours.labels, theirs.targets)
