"""Result stores that can be trusted: keyed on what computed a result, written atomically.

Long experiments store each finished run in a file, so that a rebuild of the book only loads
what it already computed. A stored result may be reused only if the same code, settings and
environment would compute it again, and only if the file holds what a finished write put there.
This module is the part every store shares:

* :func:`source_digest` — a hash of the code of some modules (and of the ``lib`` modules they
  import), insensitive to comments, docstrings and formatting;
* :func:`provenance`, :func:`provenance_key` — settings + code digest + torch version + device +
  dtype, and a short hash of them that names a folder or goes into each stored file;
* :func:`write_json`, :func:`write_bytes`, :func:`atomic_writer` — atomic writes (a reader sees
  the old file or the whole new one), with permissions that follow the umask;
* :func:`clean_stale_temps` — removes the temporary files of writers that were killed;
* :func:`read_json` — the parsed file, or ``None`` with a logged reason for anything unreadable.

Checking a record's contents (its schema) is the caller's job: only the caller knows it.

Example::

    prov = provenance({"epochs": 3}, ["lib.mnist.training"])
    folder = root / provenance_key(prov)
    clean_stale_temps(folder)
    record = read_json(folder / "run.json")      # None: missing or unreadable, retrain
    write_json(folder / "run.json", {"key": provenance_key(prov), ...})
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import json
import logging
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import IO, Any

import torch

logger = logging.getLogger(__name__)

#: The package whose modules :func:`source_digest` follows through imports.
PACKAGE = "lib"
TEMP_SUFFIX = ".tmp"


# --------------------------------------------------------------------------------------------
# What computed a result


def _module_name(module: ModuleType | str) -> str:
    return module.__name__ if isinstance(module, ModuleType) else str(module)


def _source_file(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        raise ValueError(f"modules must name Python source modules, got {name!r}")
    return Path(spec.origin)


def _without_docstrings(tree: ast.AST) -> ast.AST:
    """``tree`` with the docstring of every module, class and function removed (in place)."""
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        documented = isinstance(
            node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        )
        first = body[0] if documented and body else None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
    return tree


def _top_level_imports(tree: ast.Module, name: str, is_package: bool) -> set[str]:
    """Modules of :data:`PACKAGE` imported by the module's top-level statements.

    Imports inside functions are left out: they run only when called (``lib.config`` imports the
    GAN networks inside a validator, which decides nothing about an MNIST run).
    """
    found = set()
    statements = list(tree.body)
    while statements:
        node = statements.pop()
        if isinstance(node, (ast.If, ast.Try)):  # e.g. a guarded import
            statements += node.body + node.orelse + getattr(node, "finalbody", [])
            statements += [s for h in getattr(node, "handlers", []) for s in h.body]
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import
                base = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            # ``from lib.mnist import data`` imports the submodule lib.mnist.data
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return {m for m in found if m == PACKAGE or m.startswith(PACKAGE + ".")}


def _read_source(path: Path) -> str:
    """The text of a source file (one place, so that a test can simulate an edit)."""
    return path.read_text(encoding="utf-8")


@functools.lru_cache(maxsize=256)
def _analyse(source: str, name: str, is_package: bool) -> tuple[frozenset[str], str]:
    """The ``lib`` modules a source imports at top level, and the hash of its code.

    Cached on the source text itself, so an edited file is always analysed afresh.
    """
    tree = ast.parse(source)
    imports = frozenset(_top_level_imports(tree, name, is_package))
    code = ast.dump(_without_docstrings(tree))
    return imports, hashlib.sha256(code.encode()).hexdigest()


def _module_code(name: str) -> tuple[frozenset[str], str]:
    path = _source_file(name)
    return _analyse(_read_source(path), name, path.name == "__init__.py")


def code_modules(*modules: ModuleType | str, exclude: Iterable[ModuleType | str] = ()) -> list[str]:
    """The given modules and every :data:`PACKAGE` module they import at top level, transitively.

    Names in ``exclude`` are neither included nor followed. Sorted by name.

    Raises:
        ValueError: one of ``modules`` is not a Python source module.
    """
    requested = {_module_name(m) for m in modules}
    excluded = {_module_name(m) for m in exclude}
    seen: set[str] = set()
    pending = sorted(requested)
    while pending:
        name = pending.pop()
        if name in seen or name in excluded:
            continue
        try:
            imports, _ = _module_code(name)
        except (ModuleNotFoundError, ValueError):
            if name in requested:
                raise ValueError(f"modules must name Python source modules, got {name!r}") from None
            continue  # ``from lib.x import function``: ``lib.x.function`` is not a module
        seen.add(name)
        pending += sorted(imports - seen)
    return sorted(seen)


def source_digest(*modules: ModuleType | str, exclude: Iterable[ModuleType | str] = ()) -> str:
    """SHA-256 of the code of ``modules`` and of the ``lib`` modules they import (hex digest).

    ``modules`` are module objects or dotted names. Each module's code is hashed as its syntax
    tree without docstrings, so comments, docstrings and formatting do not count (a formatter
    pass over the tree keeps stored results valid) while any change to what the code does,
    down to a constant, changes the digest. Modules are followed through their top-level
    ``import`` statements (see :func:`code_modules`); ``exclude`` cuts modules that record
    results but do not compute them.

    Raises:
        ValueError: no module given, or a name that is not a Python source module.
    """
    if not modules:
        raise ValueError("modules must name at least one module")
    digest = hashlib.sha256()
    for name in code_modules(*modules, exclude=exclude):
        digest.update(f"{name}\0{_module_code(name)[1]}\0".encode())
    return digest.hexdigest()


def device_name(device: torch.device | str) -> str:
    """``cpu``, or ``cuda:<model name>`` for a GPU: two GPU models may round differently."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"cuda:{torch.cuda.get_device_name(device)}"
    return device.type


def provenance(
    settings: dict,
    modules: Iterable[ModuleType | str],
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    exclude: Iterable[ModuleType | str] = (),
) -> dict:
    """Everything that decides a result's numbers, as a JSON-ready dict.

    Args:
        settings: the run's settings (JSON-serialisable; tuples read back as lists).
        modules: the modules that compute the result (see :func:`source_digest`).
        device: the training device; defaults to :func:`lib.runtime.training_device`.
        dtype: the floating-point type of the computation; defaults to torch's default dtype.
        exclude: modules not to hash (see :func:`source_digest`).
    """
    from lib.runtime import training_device  # lib.runtime imports nothing from here

    if not isinstance(settings, dict):
        raise ValueError(f"settings must be a dict, got {settings!r}")
    try:
        settings = json.loads(json.dumps(settings, sort_keys=True, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"settings must be JSON-serialisable and finite, got {settings!r}"
        ) from error
    return {
        "settings": settings,
        "code": source_digest(*modules, exclude=exclude),
        "torch": torch.__version__,
        "device": device_name(device if device is not None else training_device()),
        "dtype": str(dtype if dtype is not None else torch.get_default_dtype()),
    }


def provenance_key(prov: dict) -> str:
    """A 16-hex-digit hash of a :func:`provenance` dict: equal keys, equal provenance."""
    text = json.dumps(prov, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Atomic writes


def _temp_name(path: Path) -> Path:
    """``.<name>.<pid>.<random>.tmp`` next to ``path``: the pid tells whether its writer lives."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


@contextmanager
def atomic_writer(path: str | Path) -> Iterator[IO[bytes]]:
    """A binary file that replaces ``path`` when the block ends without an error.

    The data goes to a temporary file in the same folder (so that the final rename stays on one
    file system and is atomic), is flushed to disk, then renamed over ``path``. On any error,
    including ``KeyboardInterrupt``, the temporary file is removed and ``path`` is untouched.
    The file is created with mode 0666 filtered by the process's umask, like any other file the
    user writes (``tempfile.mkstemp`` would make it 0600). Folders are created as needed.

    Use it for writers that take a file object: ``torch.save(obj, file)``,
    ``numpy.savez(file, ...)``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_name(path)
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path) as file:
        file.write(data)


def write_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` as JSON to ``path`` atomically; NaN and ±inf are refused (not JSON).

    Raises:
        ValueError: ``obj`` is not JSON-serialisable or holds a non-finite float.
    """
    try:
        text = json.dumps(obj, indent=1, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"cannot store {type(obj).__name__} as JSON in {path}: {error}") from error
    write_bytes(path, (text + "\n").encode("utf-8"))


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but someone else's
        return True
    return True


def clean_stale_temps(folder: str | Path) -> list[Path]:
    """Remove the temporary files that killed writers left in ``folder``; return them.

    A temporary file of :func:`atomic_writer` names its writer's process id; it is stale when
    that process no longer runs. Files of live writers (another process storing results in the
    same folder right now) are kept. A missing folder has nothing to clean.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for temp in folder.glob(f".*{TEMP_SUFFIX}"):
        parts = temp.name[: -len(TEMP_SUFFIX)].rsplit(".", 2)
        pid = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None
        if pid is not None and (pid == os.getpid() or _process_alive(pid)):
            continue  # its writer may be in the middle of a write
        temp.unlink(missing_ok=True)
        logger.info("removed %s, left by an interrupted write", temp)
        removed.append(temp)
    return removed


# --------------------------------------------------------------------------------------------
# Reading


def read_json(path: str | Path) -> Any | None:
    """The JSON value stored at ``path``, or ``None`` if there is none that can be read.

    Missing files are logged at INFO level (the normal case before a first run); unreadable
    bytes (not UTF-8), invalid JSON (a truncated write of an older version, an edited file) and
    other read errors at WARNING level, naming the file and the reason. NaN and ±inf, which
    Python's JSON reader accepts but JSON does not have, count as invalid.
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
        return json.loads(text, parse_constant=_refuse_constant)
    except FileNotFoundError:
        logger.info("%s: not stored yet", path)
    except UnicodeDecodeError as error:
        logger.warning("%s: ignored, not UTF-8 text (%s)", path, error)
    except ValueError as error:  # json.JSONDecodeError is a ValueError
        logger.warning("%s: ignored, not valid JSON (%s)", path, error)
    except OSError as error:
        logger.warning("%s: ignored, cannot be read (%s)", path, error)
    return None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")
