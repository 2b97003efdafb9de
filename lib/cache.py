"""One result cache: a finished run is saved under a key and reloaded while the key still matches.

The key hashes the run's settings, the source of the modules that compute it (a package stands for
all its ``.py`` files; any edit, a comment included, retrains), the torch version, the device and
the dtype. Writes are atomic (temporary file + ``os.replace``, with the user's usual file mode);
reads use ``torch.load(weights_only=True)``. An unreadable or mismatching file, or a value its
reader finds malformed, is logged and treated as missing.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from lib.config import results_root

logger = logging.getLogger(__name__)


@functools.cache
def _module_files(name: str) -> tuple[Path, ...]:
    """The source file of module ``name``, or every ``.py`` file of package ``name``."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ValueError(f"code names no importable module: {name!r}")
    if spec.submodule_search_locations:  # a package: all of its files
        return tuple(sorted(Path(spec.origin).parent.rglob("*.py")))
    return (Path(spec.origin),)


def code_digest(modules: Sequence[str]) -> str:
    """SHA-256 of the named modules' source files (names and bytes), in a fixed order."""
    digest = hashlib.sha256()
    files = sorted({f for name in modules for f in _module_files(name)})
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def give_usual_mode(path: Path) -> None:
    umask = os.umask(0)  # read the umask: os offers no getter
    os.umask(umask)
    path.chmod(0o666 & ~umask)  # mkstemp's files are the owner's alone: the user's usual mode


def check_writable(folder: Path) -> None:
    """Raise OSError, naming ``folder`` and ``RESULTS_DIR``, unless files can be written there.

    Called before a long experiment trains, so that no finished run is lost at its first save.
    """
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OSError(
            f"results folder {folder} cannot be written ({error.strerror or error}): "
            "make it writable, or set RESULTS_DIR to a writable folder"
        ) from error


class Entry:
    """One result at ``<root>/<experiment>/<key>.pt`` (``root``: :func:`results_root`)."""

    def __init__(
        self,
        experiment: str,
        settings: dict,
        code: Sequence[str],
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        root: str | Path | None = None,
    ):
        self.provenance = {
            "settings": json.loads(json.dumps(settings, sort_keys=True)),
            "code": code_digest(code),
            "torch": str(torch.__version__),
            "device": str(torch.device(device)),
            "dtype": str(dtype),
        }
        text = json.dumps(self.provenance, sort_keys=True)
        self.key = hashlib.sha256(text.encode()).hexdigest()[:20]
        self.path = Path(root or results_root()) / experiment / f"{self.key}.pt"

    def load(self, parse: Callable[[Any], Any] | None = None) -> Any | None:
        """The stored value passed through ``parse`` (which raises on a malformed value), or None
        (logged when a file was there but unusable)."""
        if not self.path.exists():
            return None
        try:
            record = torch.load(self.path, weights_only=True)
            if record["key"] != self.key:
                raise ValueError(f"stored key {record['key']!r} is not {self.key!r}")
            return record["value"] if parse is None else parse(record["value"])
        except Exception as error:  # unreadable bytes, a truncated file, a foreign record
            logger.warning(
                "%s is unusable (%s: %s); computing it again",
                self.path,
                type(error).__name__,
                str(error).splitlines()[0] if str(error) else "",
            )
            return None

    def save(self, value: Any) -> Path:
        """Store ``value`` atomically; return the file's path."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"key": self.key, "provenance": self.provenance, "value": value}
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                torch.save(record, file)
            give_usual_mode(Path(temp))
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return self.path
