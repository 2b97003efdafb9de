"""Stored runs of the MNIST grid: one JSON file per (optimizer, learning rate, seed).

A run is stored as soon as it ends, atomically (see :mod:`lib.store`), under
``<results>/optimizers/<key>/``. The key is a hash of everything that decides a run's numbers:
the grid's run settings, the code that trains it (:data:`RUN_MODULES` and the ``lib`` modules
they import), the torch version, the device and the dtype. Editing an optimizer, the training
loop or a setting therefore leads to a new folder, and the runs are trained again; editing
prose, comments or docstrings does not.

Each file records its own identity (optimizer, exact learning rate, seed, key) and is checked
on load against its name, its key and a schema (:func:`record_problem`). Anything that fails —
unreadable bytes, invalid JSON, a wrong type, a non-finite value in a run that did not diverge, a
list whose length is not the number of epochs, another run's file — is logged and treated as
missing, so the grid trains that run again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from lib.config import OptimizerGridConfig, results_root
from lib.store import provenance, provenance_key, read_json, write_json
from lib.validation import is_real

logger = logging.getLogger(__name__)

#: Settings of the grid that change what a run computes (the lists of optimizers, learning
#: rates and seeds only choose which runs exist; ``workers`` only how many run at once).
RUN_SETTINGS = (
    "epochs",
    "batch_size",
    "hidden_dim",
    "train_size",
    "test_size",
    "trace_points_per_epoch",
)
#: The modules that compute a run; the code digest follows their top-level ``lib`` imports
#: (lib.config, lib.runtime, lib.validation, ...).
RUN_MODULES = ("lib.mnist.grid", "lib.mnist.training", "lib.mnist.data", "lib.optim.optimizers")
#: Modules that record runs without computing them: left out of the digest, so that a change to
#: how runs are stored does not retrain them (a changed format fails the schema check instead).
RECORD_MODULES = ("lib.mnist.store", "lib.store")
#: History lists with one entry per epoch.
EPOCH_LISTS = ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "epoch_time")
#: Fields of a stored file that are not fields of :class:`RunResult`.
RECORD_EXTRA = ("key", "provenance")


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
        """The run as JSON values: non-finite numbers (JSON has none) become ``None``."""
        record = dataclasses.asdict(self)
        for name in (*EPOCH_LISTS, "loss_trace"):
            record[name] = [v if math.isfinite(v) else None for v in record[name]]
        record["lr"] = float(self.lr)
        return record

    @classmethod
    def from_json(cls, record: dict) -> RunResult:
        """The run of a :meth:`to_json` record (``None`` in a history reads back as NaN)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {name: value for name, value in record.items() if name in fields}
        for name in (*EPOCH_LISTS, "loss_trace"):
            values[name] = [math.nan if v is None else float(v) for v in values[name]]
        return cls(**values)


def run_settings(config: OptimizerGridConfig) -> dict:
    """The settings that make two runs of the same (optimizer, lr, seed) identical."""
    return {name: getattr(config, name) for name in RUN_SETTINGS}


def run_provenance(settings: dict) -> dict:
    """What decides the numbers of a run with these settings (see :func:`lib.store.provenance`)."""
    return provenance(settings, RUN_MODULES, exclude=RECORD_MODULES)


def run_key(config: OptimizerGridConfig) -> str:
    """The provenance key of ``config``'s runs: settings, code, torch, device and dtype."""
    return provenance_key(run_provenance(run_settings(config)))


def config_key(config: OptimizerGridConfig) -> str:
    """Alias of :func:`run_key`: the name of the folder of ``config``'s runs."""
    return run_key(config)


def results_dir(config: OptimizerGridConfig, root: str | Path | None = None) -> Path:
    """``<root>/optimizers/<run_key>``, root defaulting to :func:`lib.config.results_root`."""
    root = Path(root) if root is not None else results_root()
    return root / "optimizers" / run_key(config)


def run_path(directory: str | Path, optimizer: str, lr: float, seed: int) -> Path:
    """File of one run, e.g. ``AMSGrad_lr0.01_seed2.json``.

    The learning rate is written with ``repr``, the shortest text that reads back as the same
    float, so two different rates never share a file (0.5 and 0.5000001 do not).
    """
    return Path(directory) / f"{optimizer}_lr{float(lr)!r}_seed{seed}.json"


def save_run(result: RunResult, path: str | Path) -> None:
    """Write ``result`` to ``path`` atomically, with its key and provenance.

    The key is computed now from ``result.settings`` and the current code: call it in the
    process (or a sibling process of the same checkout) that trained the run.
    """
    prov = run_provenance(result.settings)
    write_json(path, {"key": provenance_key(prov), "provenance": prov, **result.to_json()})


def load_run(path: str | Path, config: OptimizerGridConfig) -> RunResult | None:
    """The stored run at ``path``, if it is a valid run of ``config`` with the current code.

    Returns ``None`` for a missing file and, with a logged warning naming the file and the
    reason, for anything that fails :func:`record_problem`. Never raises for a bad file.
    """
    path = Path(path)
    record = read_json(path)
    if record is None:
        return None
    try:
        problem = record_problem(record, path, config)
        result = RunResult.from_json(record) if problem is None else None
    except (OverflowError, TypeError, ValueError) as error:  # e.g. an integer of 400 digits
        problem, result = f"malformed ({error})", None
    if problem is not None:
        logger.warning("%s: ignored, %s; the run will be trained again", path, problem)
    return result


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def record_problem(record, path: Path, config: OptimizerGridConfig) -> str | None:
    """Why ``record`` (read from ``path``) is not a valid stored run of ``config``, or ``None``.

    Checks, in order: the fields; the key (same settings, code, torch, device, dtype); the
    identity against the file name; the types; the list lengths (``epochs`` entries, and the
    same number of trace points in every epoch, at most ``trace_points_per_epoch``, unless the
    run diverged, when they stop at the diverged epoch); finiteness (only a diverged run may
    hold non-finite values); ranges (accuracies in [0, 1], losses and times non-negative).
    """
    if not isinstance(record, dict):
        return f"a stored run must be a JSON object, got {type(record).__name__}"
    expected = {f.name for f in dataclasses.fields(RunResult)} | set(RECORD_EXTRA)
    if set(record) != expected:
        missing, extra = sorted(expected - set(record)), sorted(set(record) - expected)
        return f"fields differ from a stored run's (missing {missing}, unexpected {extra})"
    key = run_key(config)
    if record["key"] != key:
        return (
            f"its key {record['key']!r} is not {key!r}: it was computed by other code, "
            f"settings, torch version, device or dtype"
        )
    settings = json.loads(json.dumps(run_settings(config)))
    if record["settings"] != settings:
        return f"its settings {record['settings']!r} are not {settings!r}"
    optimizer, lr, seed = record["optimizer"], record["lr"], record["seed"]
    if not isinstance(optimizer, str) or not is_real(lr) or not _is_int(seed):
        return f"identity has wrong types: optimizer={optimizer!r}, lr={lr!r}, seed={seed!r}"
    if not (math.isfinite(lr) and lr >= 0 and seed >= 0):
        return f"identity out of range: lr={lr!r}, seed={seed!r}"
    if run_path(path.parent, optimizer, lr, seed).name != path.name:
        return f"it holds the run ({optimizer}, lr={float(lr)!r}, seed={seed}), not its name's"
    return _history_problem(record, config)


def _history_problem(record: dict, config: OptimizerGridConfig) -> str | None:
    epochs, points = config.epochs, config.trace_points_per_epoch
    diverged = record["diverged_epoch"]
    if diverged is not None and not (_is_int(diverged) and 1 <= diverged <= epochs):
        return f"diverged_epoch must be null or an epoch in 1..{epochs}, got {diverged!r}"
    for name in (*EPOCH_LISTS, "loss_trace"):
        values = record[name]
        if not isinstance(values, list):
            return f"{name} must be a list, got {type(values).__name__}"
        if not all(v is None or is_real(v) for v in values):
            return f"{name} must hold numbers, got {values!r}"
        if diverged is None and None in values:
            return f"{name} holds a non-finite value but the run did not diverge"
        finite = [v for v in values if v is not None]
        if name.endswith("accuracy") and not all(0 <= v <= 1 for v in finite):
            return f"{name} must lie in [0, 1], got {values!r}"
        if not all(v >= 0 for v in finite):
            return f"{name} must be non-negative, got {values!r}"
        if name == "loss_trace":
            # trace_points_per_epoch points per epoch, or one per minibatch if there are fewer
            per_epoch, left = divmod(len(values), epochs)
            expected = f"1 to {points} per epoch for {epochs} epochs"
            if diverged is None:
                length_ok = left == 0 and 1 <= per_epoch <= points
            else:
                length_ok = len(values) <= diverged * points
        else:
            expected = str(epochs)
            if diverged is None:
                length_ok = len(values) == epochs
            else:  # the diverged epoch's own entry may or may not have been recorded
                length_ok = diverged - 1 <= len(values) <= diverged
        if not length_ok:
            return (
                f"{name} has {len(values)} entries, expected {expected}"
                if diverged is None
                else f"{name} has {len(values)} entries, too many or too few for a run that "
                f"diverged in epoch {diverged}"
            )
    return None
