"""MNIST as in-memory tensors, read from archives whose checksums are verified.

The images are read once and kept as one float32 tensor of flattened pixels in [0, 1];
minibatches are then drawn by indexing it. This avoids the per-image PIL conversion of
``DataLoader`` + ``ToTensor``, which costs several times the arithmetic of a training epoch of a
small MLP.

Integrity: the four ``.gz`` archives are checked against the MD5 sums torchvision publishes
(:data:`MNIST_MD5`), so a corrupt or truncated archive is named with what to delete. The data
are then read from the verified archive itself; the extracted copy next to it (which torchvision
and other tools read) is rewritten whenever it differs, so an extracted file that was truncated,
emptied or altered at the same size (say, every label a 7) is repaired rather than used. Without
the archives, extracted files are used if they parse as IDX files of the right shape.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torchvision

from lib.config import data_root
from lib.store import write_bytes
from lib.validation import check_int

logger = logging.getLogger(__name__)

#: The four files torchvision looks for in ``<root>/MNIST/raw/``.
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
#: MD5 of each archive, as torchvision publishes them (``torchvision.datasets.MNIST.resources``).
MNIST_MD5 = dict(torchvision.datasets.MNIST.resources)
IMAGE_PIXELS = 28 * 28
NUM_CLASSES = 10
#: IDX magic numbers: unsigned bytes with 3 dimensions (images) or 1 (labels).
IDX_MAGIC = {3: 2051, 1: 2049}


@dataclass(frozen=True)
class MNISTTensors:
    """Images as an ``(n, 784)`` float32 tensor in [0, 1] and labels as an ``(n,)`` int64 tensor."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.ndim != 2 or self.images.shape[1] != IMAGE_PIXELS:
            raise ValueError(
                f"images must have shape (n, {IMAGE_PIXELS}), got {tuple(self.images.shape)}"
            )
        if self.labels.shape != (self.images.shape[0],):
            raise ValueError(
                f"labels must have shape ({self.images.shape[0]},), got {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return self.images.shape[0]

    def to(self, device: torch.device | str) -> MNISTTensors:
        """The same data on ``device`` (no copy when it is already there)."""
        return MNISTTensors(self.images.to(device), self.labels.to(device))


def _split_files(train: bool) -> tuple[str, str]:
    prefix = "train" if train else "t10k"
    return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"


def parse_idx(data: bytes, dims: int) -> np.ndarray:
    """The array of an IDX file of unsigned bytes with ``dims`` dimensions (3: images, 1: labels).

    Raises:
        ValueError: the bytes are not such a file (empty, wrong magic number, truncated or with
            trailing bytes, image size not 28 x 28, a label outside 0..9).
    """
    header = 4 * (1 + dims)
    if len(data) < header:
        raise ValueError(f"{len(data)} bytes, shorter than an IDX header ({header} bytes)")
    magic, *shape = np.frombuffer(data[:header], dtype=">u4").tolist()
    if magic != IDX_MAGIC[dims]:
        raise ValueError(f"magic number {magic}, expected {IDX_MAGIC[dims]}")
    if dims == 3 and shape[1:] != [28, 28]:
        raise ValueError(f"images of {shape[1]} x {shape[2]} pixels, expected 28 x 28")
    expected = header + int(np.prod(shape))
    if len(data) != expected:
        raise ValueError(f"{len(data)} bytes, expected {expected} for shape {tuple(shape)}")
    array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)
    if dims == 1 and array.size and array.max() >= NUM_CLASSES:
        raise ValueError(f"label {int(array.max())} outside 0..{NUM_CLASSES - 1}")
    return array


def _verified_archive(archive: Path) -> bytes:
    """The decompressed content of ``archive`` after checking its MD5 sum."""
    data = archive.read_bytes()
    digest = hashlib.md5(data).hexdigest()
    if digest != MNIST_MD5[archive.name]:
        raise ValueError(
            f"{archive} is corrupt or truncated (MD5 {digest}, expected {MNIST_MD5[archive.name]}, "
            f"{len(data)} bytes). Delete it and load again to download it, or replace it with "
            f"the original file."
        )
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:  # cannot happen with the right MD5
        raise ValueError(f"{archive} cannot be decompressed ({error}): delete it") from error


def _read_split_file(raw: Path, name: str, dims: int) -> np.ndarray:
    """One file of a split: from its verified archive if present, else from its extracted copy."""
    archive, extracted = raw / f"{name}.gz", raw / name
    if archive.is_file():
        data = _verified_archive(archive)
        try:
            stale = extracted.read_bytes() != data
        except OSError:
            stale = True
        if stale:  # missing, truncated, or altered: extract again from the verified archive
            try:
                write_bytes(extracted, data)
                logger.info("%s: extracted again from %s", extracted, archive.name)
            except OSError as error:  # a read-only data folder: the archive's data still serve
                logger.warning(
                    "%s differs from %s and cannot be rewritten (%s)",
                    extracted,
                    archive.name,
                    error,
                )
        where = archive
    else:
        data, where = extracted.read_bytes(), extracted
    try:
        return parse_idx(data, dims)
    except ValueError as error:
        raise ValueError(
            f"{where} is not a valid MNIST file ({error}). Delete it and put the "
            f"original {name}.gz in {raw}."
        ) from error


def _missing_message(raw: Path, reason: str) -> str:
    return (
        f"MNIST could not be loaded from {raw} ({reason}). Put the files "
        f"{', '.join(MNIST_FILES)} in that folder, or set the DATA_DIR environment variable "
        f"to a folder whose MNIST/raw/ holds them."
    )


def load_mnist(
    train: bool, size: int | None = None, root: str | Path | None = None, download: bool = True
) -> MNISTTensors:
    """Load the MNIST training (``train=True``, 60,000 images) or test set (10,000 images).

    Args:
        train: which split.
        size: keep only the first ``size`` images (``None``: all of them).
        root: folder holding ``MNIST/raw/``; defaults to :func:`lib.config.data_root`
            (``$DATA_DIR`` or ``data/`` in the repository).
        download: let torchvision download the archives when they are missing (it checks their
            MD5 sums). With the ``.gz`` files present nothing is downloaded.

    Raises:
        FileNotFoundError: the files are neither present nor downloadable; the message names the
            folder, the ``DATA_DIR`` variable and the four file names.
        ValueError: ``size`` is not a positive integer; an archive fails its MD5 check; a file
            is not a valid MNIST file (the message names the file and what to delete).
    """
    if size is not None:
        check_int("size", size, minimum=1)
    root = Path(root) if root is not None else data_root()
    raw = root / "MNIST" / "raw"
    names = _split_files(train)
    have = [(raw / f"{n}.gz").is_file() or (raw / n).is_file() for n in names]
    if not all(have):
        if not download:
            raise FileNotFoundError(_missing_message(raw, "files missing, download=False"))
        try:  # downloads the four archives (MD5-checked) and extracts them
            torchvision.datasets.MNIST(root=str(root), train=train, download=True)
        except (RuntimeError, OSError) as error:
            raise FileNotFoundError(_missing_message(raw, str(error))) from error
    images_array = _read_split_file(raw, names[0], dims=3)
    labels_array = _read_split_file(raw, names[1], dims=1)
    if len(images_array) != len(labels_array):
        raise ValueError(
            f"{raw} holds {len(images_array)} {names[0]} images but "
            f"{len(labels_array)} labels in {names[1]}: replace both files"
        )
    images = torch.from_numpy(images_array.copy())
    labels = torch.from_numpy(labels_array.astype(np.int64))
    if size is not None:
        if size > len(labels):
            raise ValueError(f"size must be at most {len(labels)}, got {size}")
        images, labels = images[:size], labels[:size]
    images = images.reshape(len(labels), IMAGE_PIXELS).to(torch.float32).div_(255.0)
    return MNISTTensors(images=images.contiguous(), labels=labels.contiguous())
