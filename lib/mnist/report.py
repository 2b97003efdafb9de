"""Tables and rankings of the optimizer benchmark (homework §2), by the rule of :mod:`lib.stats`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lib.mnist.training import RunResult
from lib.report import markdown_table
from lib.stats import SeedStats, clearly_above, seed_stats

#: The methods that scale each coordinate's step by its own gradient history, and the others.
ADAPTIVE = ("RMSProp", "AMSGrad", "Adagrad", "Adam")
NON_ADAPTIVE = ("SGD", "MomentumSGD")


#: Final test accuracy over the seeds of each (optimizer, learning rate).
AccuracyStats = dict[tuple[str, float], SeedStats]


def summarise(results: Sequence[RunResult]) -> AccuracyStats:
    """Group runs by (optimizer, learning rate), in the order they first appear."""
    groups: dict[tuple[str, float], list[RunResult]] = {}
    for result in results:
        groups.setdefault((result.optimizer, result.lr), []).append(result)
    return {
        key: seed_stats([r.final_test_accuracy for r in runs], [r.diverged for r in runs])
        for key, runs in groups.items()
    }


def select(results: Sequence[RunResult], optimizer: str, lr: float) -> list[RunResult]:
    """The runs of one (optimizer, learning rate), one per seed."""
    return [r for r in results if r.optimizer == optimizer and r.lr == lr]


@dataclass(frozen=True)
class Gap:
    """How far ``higher``'s mean accuracy lies above ``lower``'s, in points (%), and the spread
    (sum of the two sample stds) it must exceed to rank them."""

    higher: SeedStats
    lower: SeedStats

    @property
    def points(self) -> float:
        return 100 * (self.higher.mean - self.lower.mean)

    @property
    def spread(self) -> float:
        return 100 * (self.higher.std + self.lower.std)

    @property
    def exceeds_spread(self) -> bool:
        return clearly_above(self.higher, self.lower)

    def describe(self) -> str:
        """The gap in words for the prose, e.g. ``"3.10 points, spread 0.52"``."""
        return f"{self.points:.2f} points, spread {self.spread:.2f}"


def gap(summaries: AccuracyStats, higher: str, lower: str, lr: float) -> Gap:
    """The :class:`Gap` from ``lower``'s mean up to ``higher``'s at learning rate ``lr``."""
    for name in (higher, lower):
        if (name, lr) not in summaries:
            raise ValueError(f"no runs of {name!r} at lr {lr!r}; have {sorted(summaries, key=str)}")
    return Gap(summaries[(higher, lr)], summaries[(lower, lr)])


def smallest_gap(
    summaries: AccuracyStats,
    higher: Sequence[str],
    lower: Sequence[str],
    lr: float,
) -> Gap:
    """Of every pair (one of ``higher``, one of ``lower``), the gap least in favour of ``higher``:
    a pair the rule cannot rank first, else the one whose gap exceeds its spread by the least. So
    the returned gap exceeds its spread only if every pair's does."""

    def margin(g: Gap) -> tuple[bool, float]:
        return g.exceeds_spread, g.points - g.spread if g.exceeds_spread else g.points

    return min((gap(summaries, a, b, lr) for a in higher for b in lower), key=margin)


def tied_with_best(summaries: AccuracyStats, lr: float) -> list[str]:
    """The optimizers at ``lr`` whose mean cannot be ranked below the best mean: the best one and
    every other whose gap to it does not exceed the spread (runs that all diverged excluded)."""
    finished = {name: s for (name, rate), s in summaries.items() if rate == lr and s.values}
    if not finished:
        return []
    best = max(finished, key=lambda name: finished[name].mean)
    return [
        name
        for name in finished
        if name == best or not Gap(finished[best], finished[name]).exceeds_spread
    ]


def rank_against(
    summaries: AccuracyStats, names: Sequence[str], reference: str, lr: float
) -> dict[str, list[str]]:
    """Sort ``names`` by how the seeds rank each against ``reference`` at ``lr``: ``"above"``
    (its mean exceeds the reference's by more than the spread), ``"below"`` (the reverse) or
    ``"unranked"`` (the gap does not exceed the spread, or a side has fewer than two seeds)."""
    groups: dict[str, list[str]] = {"above": [], "unranked": [], "below": []}
    for name in names:
        if gap(summaries, name, reference, lr).exceeds_spread:
            groups["above"].append(name)
        elif gap(summaries, reference, name, lr).exceeds_spread:
            groups["below"].append(name)
        else:
            groups["unranked"].append(name)
    return groups


def _names(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def describe_ranking(groups: dict[str, list[str]], reference: str) -> str:
    """:func:`rank_against`'s groups in words, e.g. ``"RMSProp and Adam rank above SGD; Adagrad
    is not ranked against it"``."""
    parts, subject = [], reference
    for key, verb in (("above", "above"), ("below", "below")):
        names = groups[key]
        if names:
            rank = "ranks" if len(names) == 1 else "rank"
            parts.append(f"{_names(names)} {rank} {verb} {subject}")
            subject = "it"
    if groups["unranked"]:
        names = groups["unranked"]
        parts.append(
            f"{_names(names)} {'is' if len(names) == 1 else 'are'} not ranked against {subject}"
        )
    return "; ".join(parts)


def describe_runs(runs: Sequence[RunResult]) -> str:
    """Name runs for the prose, e.g. ``"SGD at lr 0.5 (seed 0, 2)"``; ``"none"`` if empty."""
    groups: dict[tuple[str, float], list[str]] = {}
    for r in runs:
        groups.setdefault((r.optimizer, r.lr), []).append(str(r.seed))
    text = (
        f"{name} at lr {lr:g} (seed {', '.join(seeds)})" for (name, lr), seeds in groups.items()
    )
    return "; ".join(text) or "none"


def _cell(summary: SeedStats) -> str:
    runs = summary.n + summary.diverged
    if not summary.values:
        return "diverged"
    text = f"{100 * summary.mean:.2f}" + f" ± {100 * summary.std:.2f}" * (runs > 1)
    return text + f" ({summary.diverged}/{runs} diverged)" * bool(summary.diverged)


def accuracy_table(summaries: AccuracyStats) -> str:
    """Markdown table of test accuracy in %, optimizers × learning rates; in bold, each column's
    best mean and every mean :func:`tied_with_best` it."""
    optimizers = list(dict.fromkeys(name for name, _ in summaries))
    rates = list(dict.fromkeys(lr for _, lr in summaries))
    top = {lr: tied_with_best(summaries, lr) for lr in rates}
    rows = []
    for name in optimizers:
        cells = [_cell(summaries[(name, lr)]) for lr in rates]
        rows.append([name] + [f"**{c}**" if name in top[lr] else c for c, lr in zip(cells, rates)])
    header = ["optimizer"] + [f"lr = {lr:g}" for lr in rates]
    return markdown_table(header, rows, ["l"] + ["r"] * len(rates))
