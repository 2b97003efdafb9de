"""Loading MNIST into tensors: the real files, a fake IDX set, and the error when files are missing."""

import struct

import numpy as np
import pytest
import torch
import torchvision

from lib.config import data_root
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
