"""The side-by-side experiment: every Lipschitz strategy on every target, over several seeds.

:func:`train_many` first loads every run already stored (:mod:`lib.gan.store`); the others are
grouped by shape (:func:`lib.gan.stacked.stack_key`), each group is split into at most
``workers`` stacks, the stacks train in parallel processes (one thread each: the snapshots' exact
W1 is the costly part and parallelises across processes), and each run is stored as soon as its
stack ends. The summary gives, per (method, target), mean ± std over the seeds whose runs did not
diverge of the modes covered, the share of high-quality samples, the exact W1, the critic's
objective and its measured Lipschitz constant; diverged runs are counted, not averaged.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from lib.config import GANComparisonConfig, GANConfig
from lib.gan.stacked import stack_key, train_stacked
from lib.gan.store import load_run, save_run
from lib.gan.training import TrainingRun
from lib.report import markdown_table as report_table
from lib.runtime import parallel_map
from lib.validation import check_int

SUMMARY_FIELDS = ("modes_covered", "high_quality", "w1", "objective", "lipschitz")


def comparison_configs(comparison: GANComparisonConfig) -> list[GANConfig]:
    """One :class:`GANConfig` per (variant, target, seed) of the comparison."""
    configs = []
    for _, changes in comparison.variants:
        for target in comparison.targets:
            for seed in comparison.seeds:
                configs.append(
                    GANConfig(
                        target=target,
                        seed=seed,
                        iterations=comparison.iterations,
                        snapshot_every=comparison.iterations,
                        eval_samples=comparison.eval_samples,
                        **dict(changes),
                    )
                )
    return configs


def ablation_configs(comparison: GANComparisonConfig) -> list[GANConfig]:
    """One run per ablation variant on the ablation target (seed 1, base settings otherwise)."""
    return [
        GANConfig(
            target=comparison.ablation_target,
            iterations=comparison.ablation_iterations,
            snapshot_every=comparison.ablation_iterations,
            eval_samples=comparison.eval_samples,
            **dict(changes),
        )
        for _, changes in comparison.ablation_variants
    ]


def long_configs(
    comparison: GANComparisonConfig, targets: tuple[str, ...] = ("ring", "grid")
) -> list[GANConfig]:
    """The long runs of the best variant, one per target, with snapshots along the way."""
    every = max(1, comparison.long_iterations // 10)
    return [
        GANConfig(
            target=t,
            iterations=comparison.long_iterations,
            snapshot_every=every,
            eval_samples=comparison.eval_samples,
            **dict(comparison.long_variant),
        )
        for t in targets
    ]


def stacks(configs: list[GANConfig], workers: int) -> list[list[int]]:
    """Indices of ``configs`` in the stacks to train: runs of one shape together, each shape's
    runs split into at most ``workers`` stacks, runs of one Lipschitz method kept together."""
    check_int("workers", workers, minimum=1)
    groups: dict[tuple, list[int]] = {}
    for index, config in enumerate(configs):
        groups.setdefault(stack_key(config), []).append(index)
    jobs = []
    for indices in groups.values():
        indices = sorted(indices, key=lambda i: (configs[i].lipschitz, i))
        parts = min(workers, len(indices))
        bounds = np.linspace(0, len(indices), parts + 1).round().astype(int)
        jobs += [indices[a:b] for a, b in itertools.pairwise(bounds)]
    return sorted(jobs, key=len, reverse=True)  # the longest first, for the pool's balance


def train_many(
    configs: list[GANConfig], workers: int = 2, progress: bool = True
) -> list[TrainingRun]:
    """Every configuration's run, in order: loaded when stored, else trained stacked and stored."""
    check_int("workers", workers, minimum=1)
    runs: list[TrainingRun | None] = [load_run(c) for c in configs]
    missing = [i for i, run in enumerate(runs) if run is None]
    jobs = [[missing[j] for j in stack] for stack in stacks([configs[i] for i in missing], workers)]
    bar = tqdm(total=len(missing), desc="runs", disable=not progress or not missing)
    for job, trained in parallel_map(
        train_stacked, [[configs[i] for i in job] for job in jobs], workers
    ):
        for index, run in zip(jobs[job], trained):
            save_run(run)
            runs[index] = run
        bar.update(len(trained))
    bar.close()
    return runs


def run_comparison(
    comparison: GANComparisonConfig, progress: bool = True
) -> dict[tuple[str, str, int], TrainingRun]:
    """Train every run of the comparison; keys are (variant name, target, seed)."""
    keys = [
        (name, t, s)
        for name, _ in comparison.variants
        for t in comparison.targets
        for s in comparison.seeds
    ]
    runs = train_many(comparison_configs(comparison), comparison.workers, progress)
    return dict(zip(keys, runs))


@dataclass(frozen=True)
class SummaryRow:
    """Mean and std of the final metrics of one (variant, target), over seeds not diverged.

    With every seed diverged, ``mean`` and ``std`` hold NaN: there is nothing to average.
    """

    variant: str
    target: str
    n_modes: int
    mean: dict
    std: dict
    diverged: (
        int  # runs whose loss, parameters or metrics became non-finite (left out of the means)
    )
    runs: int  # runs in the group, diverged ones included


def summarise(runs: dict[tuple[str, str, int], TrainingRun]) -> list[SummaryRow]:
    """Aggregate the runs over seeds, keeping the order in which variants and targets appear.

    A diverged run is counted in ``diverged`` and left out of the means: its last metrics describe
    broken networks (a generator collapsed to one point inside a mode would count as 100 %
    high quality).
    """
    groups: dict[tuple[str, str], list[TrainingRun]] = {}
    for (variant, target, _), run in runs.items():
        groups.setdefault((variant, target), []).append(run)
    rows = []
    for (variant, target), group in groups.items():
        kept = [r for r in group if not r.history.diverged]
        values = {f: np.array([float(r.final[f]) for r in kept]) for f in SUMMARY_FIELDS}
        mean = {f: float(np.mean(v)) if len(v) else float("nan") for f, v in values.items()}
        std = {f: float(np.std(v)) if len(v) else float("nan") for f, v in values.items()}
        rows.append(
            SummaryRow(
                variant,
                target,
                group[0].target.n_modes,
                mean,
                std,
                len(group) - len(kept),
                len(group),
            )
        )
    return rows


def find_row(rows: list[SummaryRow], variant: str, target: str) -> SummaryRow:
    """The summary row of ``variant`` on ``target``."""
    for row in rows:
        if row.variant == variant and row.target == target:
            return row
    raise ValueError(f"no row for variant {variant!r} on target {target!r}")


def markdown_table(rows: list[SummaryRow]) -> str:
    """The summary as a Markdown table (mean ± std over the seeds that did not diverge)."""
    header = [
        "target",
        "method",
        "modes covered",
        "high-quality (%)",
        "exact $W_1$",
        "critic objective",
        "measured $L$",
        "diverged",
    ]
    cells = []
    for r in rows:
        m, s = r.mean, r.std
        name = [r.target.replace("_", " "), r.variant.replace("_", " ")]
        diverged = f"{r.diverged} of {r.runs}"
        if r.diverged == r.runs:
            cells.append([*name, "–", "–", "–", "–", "–", diverged])
            continue
        cells.append(
            [
                *name,
                f"{m['modes_covered']:.1f} ± {s['modes_covered']:.1f} / {r.n_modes}",
                f"{100 * m['high_quality']:.1f} ± {100 * s['high_quality']:.1f}",
                f"{m['w1']:.3f} ± {s['w1']:.3f}",
                f"{m['objective']:.3g} ± {s['objective']:.2g}",
                f"{m['lipschitz']:.3g} ± {s['lipschitz']:.2g}",
                diverged,
            ]
        )
    return report_table(header, cells)
