"""Stored WGAN runs: a finished run is saved once and loaded on every later build.

A run lives in ``<results>/gan/<key>/run.pt``. The key is a hash (:func:`lib.store.provenance_key`)
of everything that decides the run's numbers: its :class:`~lib.config.GANConfig` (all fields but
``num_threads``), the code that trains it (:data:`RUN_MODULES` and the ``lib`` modules they
import, comments and docstrings excluded), the torch version, the device and the dtype. Editing
the trainer, a network, a metric or a setting therefore trains the run again; editing prose does
not, so a rebuild with stored runs only loads them.

The file (``torch.save`` of plain tensors, lists and numbers, read back with ``weights_only=True``)
holds the final networks' state, the history and the run's key and provenance. On load it is
checked against its key, its config and a schema (list lengths equal to the number of snapshots,
sample and critic-grid shapes, networks that load into fresh modules); anything that fails,
unreadable bytes included, is logged and treated as missing, so the run is trained again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import pickle
from pathlib import Path

import numpy as np
import torch

from lib.config import GANConfig, results_root
from lib.gan.targets import make_target
from lib.gan.training import (
    PLANE_RESOLUTION,
    History,
    TrainingRun,
    build_networks,
    plot_box,
)
from lib.store import atomic_writer, clean_stale_temps, provenance, provenance_key

logger = logging.getLogger(__name__)

#: The modules that compute a run (the digest follows their top-level ``lib`` imports).
RUN_MODULES = ("lib.gan.stacked", "lib.gan.training")
#: Modules that record runs or choose which to train, without computing them.
RECORD_MODULES = ("lib.gan.store", "lib.store", "lib.gan.comparison")
#: Settings that change how fast a run trains, not what it computes.
SPEED_SETTINGS = ("num_threads",)
SNAPSHOT_LISTS = (
    "snapshot_iterations",
    "objective",
    "w1",
    "lipschitz",
    "modes_covered",
    "high_quality",
)
FILE = "run.pt"


def run_settings(config: GANConfig) -> dict:
    """The fields of ``config`` that decide its numbers, JSON-ready."""
    settings = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    for name in SPEED_SETTINGS:
        settings.pop(name)
    settings["betas"] = list(settings["betas"])
    return settings


def run_key(config: GANConfig, dtype: torch.dtype = torch.float32) -> tuple[str, dict]:
    """The provenance key of ``config``'s run on the CPU in ``dtype``, and the provenance."""
    prov = provenance(
        run_settings(config), RUN_MODULES, device="cpu", dtype=dtype, exclude=RECORD_MODULES
    )
    prov = json.loads(json.dumps(prov))  # plain str and lists: what weights_only loading accepts
    return provenance_key(prov), prov


def run_path(config: GANConfig, root: str | Path | None = None) -> Path:
    """``<root>/gan/<key>/run.pt``, root defaulting to :func:`lib.config.results_root`."""
    root = Path(root) if root is not None else results_root()
    return root / "gan" / run_key(config)[0] / FILE


def _history_record(history: History) -> dict:
    record = {f.name: getattr(history, f.name) for f in dataclasses.fields(History)}
    record["samples"] = torch.from_numpy(np.stack(history.samples))
    record["critic_values"] = torch.from_numpy(np.stack(history.critic_values))
    return record


def save_run(run: TrainingRun, root: str | Path | None = None) -> Path:
    """Store ``run`` atomically under its key; return the file's path."""
    key, prov = run_key(run.config)
    path = run_path(run.config, root)
    record = {
        "key": key,
        "provenance": prov,
        "config": run_settings(run.config),
        "generator": run.generator.state_dict(),
        "critic": run.critic.state_dict(),
        "history": _history_record(run.history),
    }
    with atomic_writer(path) as file:
        torch.save(record, file)
    return path


def _problem(record, config: GANConfig, key: str) -> str | None:
    """What is wrong with a loaded record, or None."""
    if not isinstance(record, dict) or not {
        "key",
        "config",
        "generator",
        "critic",
        "history",
    } <= set(record):
        return "not a stored run"
    if record["key"] != key:
        return f"key {record['key']!r} is not the file's {key!r}"
    if record["config"] != run_settings(config):
        return "settings differ from the run's"
    h = record["history"]
    if not isinstance(h, dict) or not set(SNAPSHOT_LISTS) <= set(h):
        return "history incomplete"
    n = len(h["snapshot_iterations"])
    if n < 1 or any(not isinstance(h[name], list) or len(h[name]) != n for name in SNAPSHOT_LISTS):
        return "history lists differ in length"
    samples, values = h.get("samples"), h.get("critic_values")
    if not isinstance(samples, torch.Tensor) or tuple(samples.shape) != (n, config.eval_samples, 2):
        return "samples have the wrong shape"
    if not isinstance(values, torch.Tensor) or tuple(values.shape) != (
        n,
        PLANE_RESOLUTION,
        PLANE_RESOLUTION,
    ):
        return "critic values have the wrong shape"
    diverged_at = h.get("diverged_at")
    steps = config.iterations if diverged_at is None else diverged_at
    if not isinstance(h.get("critic_objective"), list) or len(h["critic_objective"]) != steps:
        return "critic objective has the wrong length"
    if h["snapshot_iterations"][-1] != steps:
        return "last snapshot is not at the run's end"
    if diverged_at is None and not all(
        math.isfinite(h[name][-1]) for name in ("objective", "w1", "lipschitz")
    ):
        return "non-finite metrics in a run that did not diverge"
    return None


def load_run(config: GANConfig, root: str | Path | None = None) -> TrainingRun | None:
    """The stored run of ``config``, or None (logged) if there is none that can be trusted."""
    key, _ = run_key(config)
    path = run_path(config, root)
    clean_stale_temps(path.parent)
    if not path.exists():
        return None
    try:
        record = torch.load(path, weights_only=True)
        problem = _problem(record, config, key)
        if problem is None:
            generator, critic = build_networks(config)
            generator.load_state_dict(record["generator"])
            critic.load_state_dict(record["critic"])
            h = dict(record["history"])
            h["samples"] = list(h["samples"].numpy())
            h["critic_values"] = list(h["critic_values"].numpy())
            history = History(**h)
    except (
        OSError,
        EOFError,
        RuntimeError,
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        pickle.UnpicklingError,
    ) as error:  # unreadable bytes, a truncated file, state that does not fit
        first_line = (str(error).strip().splitlines() or [""])[0]
        problem = f"unreadable ({type(error).__name__}: {first_line})"
    if problem is not None:
        logger.warning("%s: %s; the run is trained again", path, problem)
        return None
    target = make_target(config.target)
    return TrainingRun(config, target, generator, critic, history, plot_box(target))
