"""Many WGAN runs: variants × targets × seeds in, finished runs out, each trained once and stored.

:func:`train_runs` loads every run already stored (:class:`lib.cache.Entry`, keyed by the run's
settings and the source of :data:`CODE`); the others are grouped into as few stacks as possible
(runs equal but for the seed and the target share one, see :func:`lib.gan.training.train_stack`),
each group split into at most ``workers`` stacks that train in parallel single-threaded processes.
Each run is stored as soon as its stack ends, so an interrupted study keeps what it finished.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging

import numpy as np
import torch

from lib.cache import Entry
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
CODE = (
    "lib.gan.networks",
    "lib.gan.targets",
    "lib.gan.training",
    "lib.gan.metrics",
    "lib.runtime",
)
SPEED_SETTINGS = ("num_threads",)  # change how fast a run trains, not what it computes


def entry(config: GANConfig) -> Entry:
    """Where ``config``'s run is stored."""
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in SPEED_SETTINGS}
    return Entry("gan", settings, CODE)


def _record(run: TrainingRun) -> dict:
    """The run as plain tensors, lists and numbers (what ``weights_only`` loading accepts)."""
    history = dataclasses.asdict(run.history)
    history["samples"] = torch.from_numpy(np.stack(run.history.samples))
    history["critic_values"] = torch.from_numpy(np.stack(run.history.critic_values))
    return {
        "generator": run.generator.state_dict(),
        "critic": run.critic.state_dict(),
        "history": history,
    }


def _run(config: GANConfig, record: dict) -> TrainingRun:
    generator, critic = make_networks(config)
    generator.load_state_dict(record["generator"])
    critic.load_state_dict(record["critic"])
    history = dict(record["history"])
    history["samples"] = list(history["samples"].numpy())
    history["critic_values"] = list(history["critic_values"].numpy())
    target = make_target(config.target)
    return TrainingRun(config, target, generator, critic, History(**history), plot_box(target))


def load_run(config: GANConfig) -> TrainingRun | None:
    """The stored run of ``config``, or None when there is none that can be used."""
    record = entry(config).load()
    if record is None:
        return None
    try:
        return _run(config, record)
    except (KeyError, TypeError, RuntimeError, AttributeError) as error:  # a foreign record
        logging.getLogger(__name__).warning(
            "%s is unusable (%s); training it again", entry(config).path, error
        )
        return None


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
    jobs = [[missing[j] for j in job] for job in stacks([configs[i] for i in missing], workers)]
    done = len(configs) - len(missing)
    with Progress("gan", len(configs), done=done, unit="runs") as progress:
        for job, trained in parallel_map(
            train_stack, [[configs[i] for i in j] for j in jobs], workers
        ):
            for index, run in zip(jobs[job], trained):
                entry(run.config).save(_record(run))
                runs[index] = run
            progress.update(len(trained))
    return runs


def study_configs(
    variants: tuple, targets: tuple[str, ...], seeds: tuple[int, ...], **settings
) -> dict[tuple[str, str, int], GANConfig]:
    """One GANConfig per (variant label, target, seed): the variant's changes over ``settings``."""
    return {
        (label, target, seed): GANConfig(target=target, seed=seed, **settings, **dict(changes))
        for (label, changes), target, seed in itertools.product(variants, targets, seeds)
    }


def run_study(
    variants: tuple,
    targets: tuple[str, ...],
    seeds: tuple[int, ...],
    workers: int = 1,
    **settings,
) -> dict[tuple[str, str, int], TrainingRun]:
    """Train (or load) every run of a study; keys are (variant label, target, seed)."""
    configs = study_configs(variants, targets, seeds, **settings)
    return dict(zip(configs, train_runs(list(configs.values()), workers)))


def run_comparison(study: GANComparisonConfig) -> dict[tuple[str, str, int], TrainingRun]:
    """The Lipschitz methods side by side: every variant on every target from every seed."""
    n = study.iterations
    return run_study(
        study.variants,
        study.targets,
        study.seeds,
        study.workers,
        iterations=n,
        snapshot_every=n,
        eval_samples=study.eval_samples,
    )


def run_ablation(study: GANQualityConfig) -> dict[tuple[str, str, int], TrainingRun]:
    """Spectral normalisation against the gradient penalty's weights on one target."""
    n = study.ablation_iterations
    return run_study(
        study.ablation_variants,
        (study.ablation_target,),
        study.seeds,
        study.workers,
        iterations=n,
        snapshot_every=n,
        eval_samples=study.ablation_eval_samples,
    )


def run_quality(study: GANQualityConfig) -> dict[str, dict[tuple[str, int], TrainingRun]]:
    """The quality runs, ``{"long": ..., "deep": ...}``, each keyed (target, seed): every target
    and seed of one network shape share a stack (split over the workers)."""
    shapes = {"long": study.long_settings(), "deep": study.deep_settings()}
    runs = {}
    for shape, settings in shapes.items():
        found = run_study(
            ((shape, ()),), study.quality_targets, study.seeds, study.workers, **settings
        )
        runs[shape] = {(target, seed): run for (_, target, seed), run in found.items()}
    return runs
