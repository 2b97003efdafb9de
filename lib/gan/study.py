"""Many WGAN runs: variants × targets × seeds in, finished runs out, each trained once and stored
in :mod:`lib.cache` as soon as its stack ends."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import torch

from lib.cache import Entry, check_writable
from lib.gan.config import GANComparisonConfig, GANConfig, GANQualityConfig
from lib.gan.targets import make_target
from lib.gan.training import (
    PER_RUN_FIELDS,
    History,
    TrainingRun,
    make_networks,
    plot_box,
    train_stack,
)
from lib.progress import Progress
from lib.runtime import parallel_map

#: The modules whose source computes a run: editing one trains the stored runs again.
RUN_CODE = ("lib.gan.networks", "lib.gan.targets", "lib.gan.training", "lib.gan.metrics",
            "lib.runtime")  # fmt: skip
SPEED_SETTINGS = ("num_threads",)  # change how fast a run trains, not what it computes


def entry(config: GANConfig) -> Entry:
    """Where ``config``'s run is stored."""
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in SPEED_SETTINGS}
    return Entry("gan", settings, RUN_CODE)


def _record(run: TrainingRun) -> dict:
    """The run as plain tensors, lists and numbers (what ``weights_only`` loading accepts)."""
    history = dataclasses.asdict(run.history)
    history["samples"] = torch.from_numpy(np.stack(run.history.samples))
    history["critic_values"] = torch.from_numpy(np.stack(run.history.critic_values))
    networks = {"generator": run.generator.state_dict(), "critic": run.critic.state_dict()}
    return networks | {"history": history}


def load_run(config: GANConfig) -> TrainingRun | None:
    """The stored run of ``config``, or None when there is none that can be used (a record
    that is foreign, misshapen or lacks a field of :class:`History` is logged and retrained)."""

    def parse(record):
        generator, critic = make_networks(config)
        generator.load_state_dict(record["generator"])
        critic.load_state_dict(record["critic"])
        history = dict(record["history"])
        missing = {f.name for f in dataclasses.fields(History)} - set(history)
        if missing:
            raise KeyError(f"history lacks {sorted(missing)}")
        history["samples"] = list(history["samples"].numpy())
        history["critic_values"] = list(history["critic_values"].numpy())
        return generator, critic, History(**history)

    loaded = entry(config).load(parse)
    target = make_target(config.target)
    return None if loaded is None else TrainingRun(config, target, *loaded, plot_box(target))


def stacks(configs: list[GANConfig], workers: int) -> list[list[int]]:
    """Indices of ``configs`` in stacks: runs equal but for seed and target together, each such
    group split into at most ``workers`` stacks (the largest first, for the pool's balance)."""
    groups: dict[GANConfig, list[int]] = {}
    for i, config in enumerate(configs):
        key = dataclasses.replace(
            config, **{name: GANConfig().__dict__[name] for name in PER_RUN_FIELDS}
        )
        groups.setdefault(key, []).append(i)
    jobs = []
    for indices in groups.values():
        bounds = np.linspace(0, len(indices), min(workers, len(indices)) + 1).round().astype(int)
        jobs += [indices[a:b] for a, b in itertools.pairwise(bounds)]
    return sorted(jobs, key=len, reverse=True)


def train_runs(configs: list[GANConfig], workers: int = 1) -> list[TrainingRun]:
    """Every configuration's run, in order: loaded when stored, else trained stacked and stored."""
    runs: list[TrainingRun | None] = [load_run(c) for c in configs]
    missing = [i for i, run in enumerate(runs) if run is None]
    if missing:
        check_writable(entry(configs[missing[0]]).path.parent)
    jobs = [[missing[j] for j in job] for job in stacks([configs[i] for i in missing], workers)]
    done = len(configs) - len(missing)
    with Progress("gan", len(configs), done=done, unit="runs") as progress:
        stacked = [[configs[i] for i in job] for job in jobs]
        for job, trained in parallel_map(train_stack, stacked, workers):
            for index, run in zip(jobs[job], trained):
                entry(run.config).save(_record(run))
                runs[index] = run
            progress.update(len(trained))
    return runs


def run_study(variants: tuple, targets: tuple, seeds: tuple, workers: int = 1, **settings) -> dict:
    """Train (or load) every run of a study, keyed (variant label, target, seed); each variant's
    changes apply over ``settings``."""
    configs = {
        (label, target, seed): GANConfig(target=target, seed=seed, **settings, **dict(changes))
        for (label, changes), target, seed in itertools.product(variants, targets, seeds)
    }
    return dict(zip(configs, train_runs(list(configs.values()), workers)))


def run_comparison(study: GANComparisonConfig) -> dict[tuple[str, str, int], TrainingRun]:
    """The Lipschitz methods side by side: every variant on every target from every seed."""
    runs = (study.variants, study.targets, study.seeds, study.workers)
    return run_study(*runs, **study.settings())


def run_quality(study: GANQualityConfig) -> dict[tuple[str, int], TrainingRun]:
    """The quality runs keyed (target, seed), all in one stack split over the workers."""
    variant = (("deep", ()),)
    found = run_study(variant, study.quality_targets, study.seeds, study.workers,
                      **study.deep_settings())  # fmt: skip
    return {(target, seed): run for (_, target, seed), run in found.items()}
