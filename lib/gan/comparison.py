"""The side-by-side experiment: every Lipschitz strategy on every target, over several seeds.

Runs are independent, so they are spread over a few processes (each torch process uses one thread,
which is the fastest setting for these tiny networks). The summary gives, per (method, target),
mean ± std over seeds of the modes covered, the share of high-quality samples, the exact W1, the
critic's objective and its measured Lipschitz constant.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from lib.config import GANComparisonConfig, GANConfig
from lib.gan.training import TrainingRun, train_wgan
from lib.runtime import parallel_map

SUMMARY_FIELDS = ("modes_covered", "high_quality", "w1", "objective", "lipschitz")


def comparison_configs(comparison: GANComparisonConfig) -> list[GANConfig]:
    """One :class:`GANConfig` per (variant, target, seed) of the comparison."""
    configs = []
    for variant, changes in comparison.variants:
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
        GANConfig(target=comparison.ablation_target, iterations=comparison.ablation_iterations,
                  snapshot_every=comparison.ablation_iterations, eval_samples=comparison.eval_samples,
                  **dict(changes))
        for _, changes in comparison.ablation_variants
    ]


def long_configs(comparison: GANComparisonConfig, targets: tuple[str, ...] = ("ring", "grid")) -> list[GANConfig]:
    """The long runs of the best variant, one per target, with snapshots along the way."""
    every = max(1, comparison.long_iterations // 10)
    return [
        GANConfig(target=t, iterations=comparison.long_iterations, snapshot_every=every,
                  eval_samples=comparison.eval_samples, **dict(comparison.long_variant))
        for t in targets
    ]


def _train_quietly(config: GANConfig) -> TrainingRun:
    return train_wgan(config, progress=False)


def train_many(configs: list[GANConfig], workers: int = 2, progress: bool = True) -> list[TrainingRun]:
    """Train every configuration, ``workers`` at a time in separate processes; keep the order."""
    runs: list[TrainingRun | None] = [None] * len(configs)
    for index, run in tqdm(parallel_map(_train_quietly, configs, workers), total=len(configs),
                           desc="runs", disable=not progress):
        runs[index] = run
    return runs


def run_comparison(comparison: GANComparisonConfig, progress: bool = True) -> dict[tuple[str, str, int], TrainingRun]:
    """Train every run of the comparison; keys are (variant name, target, seed)."""
    keys = [(name, t, s) for name, _ in comparison.variants for t in comparison.targets for s in comparison.seeds]
    runs = train_many(comparison_configs(comparison), comparison.workers, progress)
    return dict(zip(keys, runs))


@dataclass(frozen=True)
class SummaryRow:
    """Mean and std over seeds of the final metrics of one (variant, target)."""

    variant: str
    target: str
    n_modes: int
    mean: dict
    std: dict
    diverged: int  # runs whose loss became non-finite


def summarise(runs: dict[tuple[str, str, int], TrainingRun]) -> list[SummaryRow]:
    """Aggregate the runs over seeds, keeping the order in which variants and targets appear."""
    groups: dict[tuple[str, str], list[TrainingRun]] = {}
    for (variant, target, _), run in runs.items():
        groups.setdefault((variant, target), []).append(run)
    rows = []
    for (variant, target), group in groups.items():
        values = {f: np.array([float(r.final[f]) for r in group]) for f in SUMMARY_FIELDS}
        rows.append(
            SummaryRow(
                variant,
                target,
                group[0].target.n_modes,
                {f: float(np.mean(v)) for f, v in values.items()},
                {f: float(np.std(v)) for f, v in values.items()},
                sum(r.history.diverged for r in group),
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
    """The summary as a Markdown table (mean ± std over seeds)."""
    lines = [
        "| target | method | modes covered | high-quality (%) | exact $W_1$ | critic objective | measured $L$ | diverged |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        m, s = r.mean, r.std
        lines.append(
            f"| {r.target.replace('_', ' ')} | {r.variant.replace('_', ' ')} "
            f"| {m['modes_covered']:.1f} ± {s['modes_covered']:.1f} / {r.n_modes} "
            f"| {100 * m['high_quality']:.1f} ± {100 * s['high_quality']:.1f} "
            f"| {m['w1']:.3f} ± {s['w1']:.3f} | {m['objective']:.3g} ± {s['objective']:.2g} "
            f"| {m['lipschitz']:.3g} ± {s['lipschitz']:.2g} | {r.diverged} |"
        )
    return "\n".join(lines)
