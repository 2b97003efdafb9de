"""MNIST as in-memory tensors.

The images are read once with :class:`torchvision.datasets.MNIST` and kept as one float32 tensor
of flattened pixels in [0, 1]; minibatches are then drawn by indexing it. This avoids the
per-image PIL conversion of ``DataLoader`` + ``ToTensor``, which costs several times the
arithmetic of a training epoch of a small MLP.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision

from lib.config import data_root
from lib.validation import check_int

#: The four files torchvision looks for in ``<root>/MNIST/raw/``.
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
IMAGE_PIXELS = 28 * 28
NUM_CLASSES = 10


@dataclass(frozen=True)
class MNISTTensors:
    """Images as an ``(n, 784)`` float32 tensor in [0, 1] and labels as an ``(n,)`` int64 tensor."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.ndim != 2 or self.images.shape[1] != IMAGE_PIXELS:
            raise ValueError(f"images must have shape (n, {IMAGE_PIXELS}), "
                             f"got {tuple(self.images.shape)}")
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"labels must have shape ({self.images.shape[0]},), "
                             f"got {tuple(self.labels.shape)}")

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device: torch.device | str) -> MNISTTensors:
        """The same data on ``device`` (no copy when it is already there)."""
        return MNISTTensors(self.images.to(device), self.labels.to(device))


def load_mnist(train: bool, size: int | None = None, root: str | Path | None = None,
               download: bool = True) -> MNISTTensors:
    """Load the MNIST training (``train=True``, 60,000 images) or test set (10,000 images).

    Args:
        train: which split.
        size: keep only the first ``size`` images (``None``: all of them).
        root: folder holding ``MNIST/raw/``; defaults to :func:`lib.config.data_root`
            (``$DATA_DIR`` or ``data/`` in the repository).
        download: let torchvision download the files when they are missing. With the four
            ``.gz`` files present it only extracts them.

    Raises:
        FileNotFoundError: the files are neither present nor downloadable; the message names the
            folder, the ``DATA_DIR`` variable and the four file names.
        ValueError: ``size`` is not a positive integer.
    """
    if size is not None:
        check_int("size", size, minimum=1)
    root = Path(root) if root is not None else data_root()
    try:
        dataset = torchvision.datasets.MNIST(root=str(root), train=train, download=download)
    except (RuntimeError, OSError) as error:
        raise FileNotFoundError(
            f"MNIST could not be loaded from {root / 'MNIST' / 'raw'} ({error}). Put the files "
            f"{', '.join(MNIST_FILES)} in that folder, or set the DATA_DIR environment variable "
            f"to a folder whose MNIST/raw/ holds them."
        ) from error
    images, labels = dataset.data, dataset.targets
    if size is not None:
        if size > len(labels):
            raise ValueError(f"size must be at most {len(labels)}, got {size}")
        images, labels = images[:size], labels[:size]
    images = images.reshape(len(labels), IMAGE_PIXELS).to(torch.float32).div_(255.0)
    return MNISTTensors(images=images.contiguous(), labels=labels.to(torch.int64).contiguous())
