"""MNIST as in-memory tensors, read with torchvision's own readers from MD5-checked archives.

The images are read once and kept as one float32 tensor of flattened pixels in [0, 1];
minibatches are then drawn by indexing it. This avoids the per-image PIL conversion of
``DataLoader`` + ``ToTensor``, which costs several times the arithmetic of a training epoch of a
small MLP.

Integrity: each ``.gz`` archive must match the MD5 sum torchvision publishes
(``torchvision.datasets.MNIST.resources``) before anything is read from it, so a damaged or
truncated archive is named with what to do, and nothing is trained on it. The verified archive
is decompressed into a temporary folder and read by
:func:`torchvision.datasets.mnist.read_sn3_pascalvincent_tensor`; extracted copies lying next
to the archives are never read.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision
from torchvision.datasets.mnist import read_sn3_pascalvincent_tensor
from torchvision.datasets.utils import check_integrity, extract_archive

from lib.config import data_root

#: MD5 of each of the four archives torchvision looks for in ``<root>/MNIST/raw/``.
MNIST_MD5 = dict(torchvision.datasets.MNIST.resources)
MNIST_FILES = tuple(MNIST_MD5)
MIRROR = torchvision.datasets.MNIST.mirrors[0]
IMAGE_PIXELS = 28 * 28
NUM_CLASSES = 10


@dataclass(frozen=True)
class MNISTTensors:
    """Images as an ``(n, 784)`` float32 tensor in [0, 1] and labels as an ``(n,)`` int64 tensor."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device: torch.device | str) -> MNISTTensors:
        """The same data on ``device`` (no copy when it is already there)."""
        return MNISTTensors(self.images.to(device), self.labels.to(device))


def _read_archive(archive: Path, scratch: Path) -> torch.Tensor:
    """The tensor stored in ``archive`` after checking its MD5 sum."""
    if not check_integrity(archive, MNIST_MD5[archive.name]):
        raise ValueError(
            f"{archive} is damaged or truncated (its MD5 sum is not "
            f"{MNIST_MD5[archive.name]}): nothing was trained on it. Delete it and run again to "
            f"download it, or copy the original from {MIRROR}{archive.name}."
        )
    return read_sn3_pascalvincent_tensor(extract_archive(str(archive), str(scratch)))


def load_mnist(
    train: bool, size: int | None = None, root: str | Path | None = None, download: bool = True
) -> MNISTTensors:
    """The MNIST training (``train=True``, 60,000 images) or test set (10,000 images).

    Args:
        train: which split.
        size: keep only the first ``size`` images (``None``: all of them).
        root: folder holding ``MNIST/raw/``; :func:`lib.config.data_root` by default
            (``$DATA_DIR`` or ``data/`` in the repository).
        download: let torchvision download missing archives (it checks their MD5 sums).

    Raises:
        FileNotFoundError: an archive is missing and cannot be downloaded; the message names
            the folder, the files and the ``DATA_DIR`` variable.
        ValueError: an archive fails its MD5 check; the message names it and what to do.
    """
    root = Path(root) if root is not None else data_root()
    raw = root / "MNIST" / "raw"
    prefix = "train" if train else "t10k"
    names = (f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz")
    if not all((raw / name).is_file() for name in names):
        reason = "files missing"
        if download:
            try:  # downloads the four archives, MD5-checked, into raw/
                torchvision.datasets.MNIST(root=str(root), train=train, download=True)
            except (RuntimeError, OSError) as error:
                reason = str(error)
        if not all((raw / name).is_file() for name in names):
            raise FileNotFoundError(
                f"MNIST could not be loaded from {raw} ({reason}). Copy the files "
                f"{', '.join(MNIST_FILES)} from {MIRROR} into that folder, or set DATA_DIR to "
                f"a folder whose MNIST/raw/ holds them."
            )
    with tempfile.TemporaryDirectory() as scratch:
        images, labels = (_read_archive(raw / name, Path(scratch)) for name in names)
    if size is not None:
        images, labels = images[:size], labels[:size]
    images = images.reshape(len(labels), IMAGE_PIXELS).to(torch.float32).div_(255.0)
    return MNISTTensors(images=images.contiguous(), labels=labels.long().contiguous())
