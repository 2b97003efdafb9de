"""The one place where the device that trains the models is chosen.

The first CUDA GPU when there is one, else the CPU. ``$BOOK_DEVICE`` overrides the choice
(``cpu``, ``cuda`` or ``cuda:N``), e.g. to compare both on a machine with a GPU.
"""

from __future__ import annotations

import os

import torch


def training_device() -> torch.device:
    """The device for training: ``$BOOK_DEVICE`` if set, else CUDA when available, else CPU."""
    name = os.environ.get("BOOK_DEVICE", "").strip().lower()
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"BOOK_DEVICE must be 'cpu', 'cuda' or 'cuda:N', got {name!r}") from error
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"BOOK_DEVICE must be 'cpu', 'cuda' or 'cuda:N', got {name!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"BOOK_DEVICE is {name!r} but no CUDA device is available")
    return device
