"""Wall times of whole tasks: the optimizer grid, ``make test``, the book build.

The grid's time is read from the results store of :mod:`lib.mnist.store` (each stored run
keeps its per-epoch training seconds). Other tasks are either timed here, as a shell command, or
recorded from a measurement made elsewhere; both become one entry of the results' ``wall_times``.
"""

from __future__ import annotations

import math
import os
import subprocess
import time
from datetime import datetime, timezone

from lib.config import OptimizerGridConfig, repo_root
from lib.mnist.store import load_run, results_dir, run_path
from lib.mnist.grid import grid_runs


def parse_assignment(text: str, option: str) -> tuple[str, str]:
    """Split ``NAME=VALUE`` (as given to ``--record`` or ``--time-command``)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name or not value.strip():
        raise ValueError(f"{option} must look like NAME=VALUE, got {text!r}")
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"{option} name must be letters, digits, '_' or '-', got {name!r}")
    return name, value.strip()


def recorded(text: str) -> tuple[str, dict]:
    """The entry for ``--record NAME=SECONDS``: a wall time measured elsewhere."""
    name, value = parse_assignment(text, "--record")
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"--record seconds must be a finite number >= 0, got {value!r}")
    return name, {"seconds": seconds, "source": "recorded", "when": _now()}


def timed(text: str) -> tuple[str, dict]:
    """The entry for ``--time-command NAME=COMMAND``: run ``COMMAND`` in a shell and time it."""
    name, command = parse_assignment(text, "--time-command")
    start = time.perf_counter()
    completed = subprocess.run(command, shell=True, check=False)
    seconds = time.perf_counter() - start
    return name, {"seconds": seconds, "source": "timed", "command": command,
                  "returncode": completed.returncode, "when": _now()}


def homework_grid(grid: OptimizerGridConfig, profile: str, root=None) -> dict:
    """Training time of the optimizer grid ``grid`` (of profile ``profile``) from its stored runs
    (evaluation not included).

    ``serial_seconds`` adds every stored run's epochs; ``wall_seconds`` divides it by the number
    of runs trained at once (``grid.workers``), which is the grid's wall time when every run is
    stored (``complete``).
    """
    runs = grid_runs(grid)
    directory = results_dir(grid, root)
    stored = [load_run(run_path(directory, *run), grid) for run in runs]
    stored = [result for result in stored if result is not None]
    serial = sum(sum(result.epoch_time) for result in stored)
    return {
        "profile": profile,
        "runs_stored": len(stored),
        "runs_total": len(runs),
        "complete": len(stored) == len(runs),
        "workers": grid.workers,
        "serial_seconds": serial,
        "wall_seconds": serial / max(min(grid.workers, len(runs)), 1),
        "store": os.path.relpath(directory, repo_root()),
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
