"""Stored runs of the MNIST grid: one JSON file per (optimizer, learning rate, seed).

A run is stored as soon as it ends, atomically, under ``<results>/optimizers/<key>/``, where the
key names the settings that change what a run computes; an interrupted grid resumes from what
is stored and a finished one only loads.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from lib.config import OptimizerGridConfig, results_root

#: Settings of the grid that change what a run computes (the lists of optimizers, learning
#: rates and seeds only choose which runs exist).
RUN_SETTINGS = ("epochs", "batch_size", "hidden_dim", "train_size", "test_size",
                "trace_points_per_epoch")

@dataclass
class RunResult:
    """History of one (optimizer, learning rate, seed) run; lists hold one entry per epoch."""

    optimizer: str
    lr: float
    seed: int
    settings: dict  # the grid's RUN_SETTINGS this run used
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)  # seconds of training per epoch
    loss_trace: list[float] = field(default_factory=list)  # trace_points_per_epoch per epoch
    diverged_epoch: int | None = None  # 1-based epoch whose loss became non-finite

    @property
    def diverged(self) -> bool:
        return self.diverged_epoch is not None

    @property
    def final_test_accuracy(self) -> float:
        """Test accuracy after the last epoch; NaN for a diverged run."""
        return math.nan if self.diverged or not self.test_accuracy else self.test_accuracy[-1]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, record: dict) -> RunResult:
        return cls(**record)


def run_settings(config: OptimizerGridConfig) -> dict:
    """The settings that make two runs of the same (optimizer, lr, seed) identical."""
    return {name: getattr(config, name) for name in RUN_SETTINGS}


def config_key(config: OptimizerGridConfig) -> str:
    """A short name for the run settings: runs of different settings never share a folder."""
    text = json.dumps(run_settings(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def results_dir(config: OptimizerGridConfig, root: str | Path | None = None) -> Path:
    """``<root>/optimizers/<config_key>``, root defaulting to :func:`lib.config.results_root`."""
    root = Path(root) if root is not None else results_root()
    return root / "optimizers" / config_key(config)


def run_path(directory: Path, optimizer: str, lr: float, seed: int) -> Path:
    """File of one run, e.g. ``AMSGrad_lr0.01_seed2.json``."""
    return Path(directory) / f"{optimizer}_lr{lr:g}_seed{seed}.json"


def save_run(result: RunResult, path: Path) -> None:
    """Write ``result`` to ``path`` atomically: a reader sees the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as file:
            json.dump(result.to_json(), file, indent=1)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_run(path: Path, config: OptimizerGridConfig) -> RunResult | None:
    """The stored run at ``path`` if it exists and was made with ``config``'s settings."""
    try:
        result = RunResult.from_json(json.loads(Path(path).read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None
    return result if result.settings == _as_json(run_settings(config)) else None


def _as_json(value):
    """``value`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


