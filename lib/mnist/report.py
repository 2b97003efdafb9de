"""Tables and figures of the optimizer benchmark (homework §2), built from :class:`RunResult` s.

* :func:`summarize`: final test accuracy per (optimizer, learning rate), mean ± std over seeds;
* :func:`gap`, :func:`smallest_gap`, :func:`tied_with_best`, :func:`rank_against`,
  :func:`describe_ranking`: the book's ranking rule — one mean
  ranks above another only when the gap exceeds the spread (the sum of the two standard
  deviations over at least two seeds each);
* :func:`accuracy_table`: the summary as a Markdown table, the best mean of each learning rate
  and every mean tied with it in bold;
* :func:`plot_loss_curves`, :func:`plot_test_accuracy`: one panel per learning rate;
* :func:`amsgrad_second_moments`, :func:`plot_amsgrad_variants`: how the homework's AMSGrad
  and ``torch.optim.Adam(amsgrad=True)`` treat the same gradient sequence;
* :func:`replay`, :func:`homework_pseudocode`: the chapter's check of the graded update rules —
  an optimizer fed a fixed gradient sequence, against a line-by-line NumPy transcription of the
  homework's pseudocode.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import NullFormatter

from lib.mnist.store import RunResult
from lib.optim.optimizers import AMSGrad

#: The methods that scale each coordinate's step by its own gradient history, and the others.
ADAPTIVE = ("RMSProp", "AMSGrad", "Adagrad", "Adam")
NON_ADAPTIVE = ("SGD", "MomentumSGD")


@dataclass(frozen=True)
class Summary:
    """Final test accuracies of the seeds of one (optimizer, learning rate)."""

    optimizer: str
    lr: float
    accuracies: tuple[float, ...]  # of the runs that did not diverge
    runs: int
    diverged: int

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies)) if self.accuracies else math.nan

    @property
    def std(self) -> float:
        """Sample standard deviation over seeds (0 for a single run, NaN for none)."""
        if len(self.accuracies) < 2:
            return 0.0 if self.accuracies else math.nan
        return float(np.std(self.accuracies, ddof=1))


def summarize(results: Sequence[RunResult]) -> dict[tuple[str, float], Summary]:
    """Group runs by (optimizer, learning rate), in the order they first appear."""
    groups: dict[tuple[str, float], list[RunResult]] = {}
    for result in results:
        groups.setdefault((result.optimizer, result.lr), []).append(result)
    return {
        key: Summary(optimizer=key[0], lr=key[1],
                     accuracies=tuple(r.final_test_accuracy for r in runs if not r.diverged),
                     runs=len(runs), diverged=sum(r.diverged for r in runs))
        for key, runs in groups.items()
    }


def select(results: Sequence[RunResult], optimizer: str, lr: float) -> list[RunResult]:
    """The runs of one (optimizer, learning rate), one per seed."""
    return [r for r in results if r.optimizer == optimizer and r.lr == lr]


@dataclass(frozen=True)
class Gap:
    """How far the mean final accuracy of ``higher`` lies above that of ``lower``, in points (%).

    The spread is the sum of the two sample standard deviations over seeds. The book ranks
    ``higher`` above ``lower`` only when the gap exceeds it, which needs at least two finished
    seeds on each side (with one, the spread is unknown).
    """

    higher: Summary
    lower: Summary

    @property
    def points(self) -> float:
        return 100 * (self.higher.mean - self.lower.mean)

    @property
    def spread(self) -> float:
        return 100 * (self.higher.std + self.lower.std)

    @property
    def exceeds_spread(self) -> bool:
        seeds = min(len(self.higher.accuracies), len(self.lower.accuracies))
        return bool(seeds >= 2 and self.points > self.spread)

    def describe(self) -> str:
        """The gap in words for the prose, e.g. ``"3.10 points, spread 0.52"``."""
        return f"{self.points:.2f} points, spread {self.spread:.2f}"


def gap(summaries: dict[tuple[str, float], Summary], higher: str, lower: str, lr: float) -> Gap:
    """The :class:`Gap` from ``lower``'s mean up to ``higher``'s at learning rate ``lr``."""
    for name in (higher, lower):
        if (name, lr) not in summaries:
            raise ValueError(f"no runs of {name!r} at lr {lr!r}; "
                             f"summaries hold {sorted(summaries, key=str)}")
    return Gap(summaries[(higher, lr)], summaries[(lower, lr)])


def smallest_gap(summaries: dict[tuple[str, float], Summary], higher: Sequence[str],
                 lower: Sequence[str], lr: float) -> Gap:
    """Of every pair (one of ``higher``, one of ``lower``), the gap least in favour of ``higher``.

    ``higher`` ranks above ``lower`` as a group when this gap exceeds its spread; the pair is
    chosen by the size of the gap, so another pair may have a larger spread.
    """
    if isinstance(higher, str) or isinstance(lower, str) or not higher or not lower:
        raise ValueError(f"higher and lower must be non-empty sequences of optimizer names, "
                         f"got {higher!r} and {lower!r}")
    gaps = [gap(summaries, a, b, lr) for a in higher for b in lower]
    return min(gaps, key=lambda g: g.points if not math.isnan(g.points) else -math.inf)


def tied_with_best(summaries: dict[tuple[str, float], Summary], lr: float) -> list[str]:
    """The optimizers at ``lr`` whose mean cannot be ranked below the best mean: the best one and
    every other whose gap to it does not exceed the spread (runs that all diverged excluded)."""
    finished = {name: s for (name, rate), s in summaries.items() if rate == lr and s.accuracies}
    if not finished:
        return []
    best = max(finished, key=lambda name: finished[name].mean)
    return [name for name in finished
            if name == best or not Gap(finished[best], finished[name]).exceeds_spread]


def rank_against(summaries: dict[tuple[str, float], Summary], names: Sequence[str],
                 reference: str, lr: float) -> dict[str, list[str]]:
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
    if sorted(groups) != ["above", "below", "unranked"]:
        raise ValueError(f"groups must be rank_against's dict, got keys {sorted(groups)}")
    parts, subject = [], reference
    for key, verb in (("above", "above"), ("below", "below")):
        names = groups[key]
        if names:
            rank = "ranks" if len(names) == 1 else "rank"
            parts.append(f"{_names(names)} {rank} {verb} {subject}")
            subject = "it"
    if groups["unranked"]:
        names = groups["unranked"]
        parts.append(f"{_names(names)} {'is' if len(names) == 1 else 'are'} not ranked "
                     f"against {subject}")
    return "; ".join(parts)


def describe_runs(runs: Sequence[RunResult]) -> str:
    """Name runs for the prose, e.g. ``"SGD at lr 0.5 (seed 0, 2)"``; ``"none"`` if empty."""
    groups: dict[tuple[str, float], list[str]] = {}
    for r in runs:
        groups.setdefault((r.optimizer, r.lr), []).append(str(r.seed))
    return "; ".join(f"{name} at lr {lr:g} (seed {', '.join(seeds)})"
                     for (name, lr), seeds in groups.items()) or "none"


def _cell(summary: Summary) -> str:
    if not summary.accuracies:
        return "diverged"
    text = f"{100 * summary.mean:.2f}"
    if summary.runs > 1:
        text += f" ± {100 * summary.std:.2f}"
    if summary.diverged:
        text += f" ({summary.diverged}/{summary.runs} diverged)"
    return text


def accuracy_table(summaries: dict[tuple[str, float], Summary]) -> str:
    """Markdown table: one row per optimizer, one column per learning rate, test accuracy in %.

    In each column the best mean is in bold, and so is every mean tied with it (its gap to the
    best does not exceed the spread, see :func:`tied_with_best`).
    """
    optimizers = list(dict.fromkeys(name for name, _ in summaries))
    rates = list(dict.fromkeys(lr for _, lr in summaries))
    top = {lr: tied_with_best(summaries, lr) for lr in rates}
    lines = ["| optimizer | " + " | ".join(f"lr = {lr:g}" for lr in rates) + " |",
             "|---|" + "---:|" * len(rates)]
    for name in optimizers:
        cells = []
        for lr in rates:
            summary = summaries[(name, lr)]
            cell = _cell(summary)
            cells.append(f"**{cell}**" if name in top[lr] else cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _by_lr(results: Sequence[RunResult]) -> dict[float, dict[str, list[RunResult]]]:
    grouped: dict[float, dict[str, list[RunResult]]] = {}
    for result in results:
        grouped.setdefault(result.lr, {}).setdefault(result.optimizer, []).append(result)
    return grouped


def _padded(series: Sequence[Sequence[float]]) -> np.ndarray:
    """Stack series of unequal length (diverged runs stop early), padding with NaN."""
    length = max(len(s) for s in series)
    out = np.full((len(series), length), np.nan)
    for i, s in enumerate(series):
        out[i, :len(s)] = s
    return out


def _panels(n: int, ylabel: str, log: bool):
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6), sharey=not log, squeeze=False)
    axes = axes[0]
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if log:
            ax.set_yscale("log")
    axes[0].set_ylabel(ylabel)
    return fig, axes


def plot_loss_curves(results: Sequence[RunResult], points_per_epoch: int):
    """Training loss against epochs, one panel per learning rate; line: mean over seeds, band:
    range over seeds, cross: the last point of a run that diverged."""
    grouped = _by_lr(results)
    fig, axes = _panels(len(grouped), "training loss (minibatch mean)", log=True)
    for ax, (lr, runs_of) in zip(axes, grouped.items()):
        for name, runs in runs_of.items():
            losses = _padded([r.loss_trace for r in runs])
            x = (np.arange(losses.shape[1]) + 1) / points_per_epoch
            with np.errstate(all="ignore"):
                mean = np.nanmean(losses, axis=0)
            (line,) = ax.plot(x, mean, label=name, lw=1.4)
            ax.fill_between(x, np.nanmin(losses, axis=0), np.nanmax(losses, axis=0),
                            color=line.get_color(), alpha=0.2, lw=0)
            for r in runs:
                if r.diverged and r.loss_trace:
                    ax.plot(len(r.loss_trace) / points_per_epoch, r.loss_trace[-1], "x",
                            color=line.get_color(), ms=8)
        ax.set_title(f"lr = {lr:g}")
        low, high = ax.get_ylim()
        if high < 20 * low:  # a narrow range reads better on a linear axis
            ax.set_yscale("linear")
        else:
            ax.yaxis.set_minor_formatter(NullFormatter())
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_test_accuracy(results: Sequence[RunResult]):
    """Test accuracy after each epoch, mean over seeds, one panel per learning rate."""
    grouped = _by_lr(results)
    fig, axes = _panels(len(grouped), "test accuracy", log=False)
    for ax, (lr, runs_of) in zip(axes, grouped.items()):
        for name, runs in runs_of.items():
            accuracy = _padded([r.test_accuracy or [math.nan] for r in runs])
            with np.errstate(all="ignore"):
                ax.plot(np.arange(1, accuracy.shape[1] + 1), np.nanmean(accuracy, axis=0),
                        marker="o", ms=3, label=name)
        ax.set_title(f"lr = {lr:g}")
        ax.set_ylim(0, 1)
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def amsgrad_second_moments(gradients: Sequence[float], lr: float = 1e-3, beta1: float = 0.9,
                           beta2: float = 0.999, delta: float = 1e-8) -> dict[str, np.ndarray]:
    """Feed one scalar parameter the same gradients under both AMSGrad variants.

    Returns the step-by-step parameter values of :class:`lib.optim.optimizers.AMSGrad`
    (``ours``) and of ``torch.optim.Adam(amsgrad=True)`` (``torch``), and the second moment each
    divides by:
    ours keeps :math:`\\max_s \\hat m_{2,s}`, torch :math:`\\max_s m_{2,s} / (1-\\beta_2^{t})`.
    """
    params = {name: torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
              for name in ("ours", "torch")}
    optimizers = {
        "ours": AMSGrad([params["ours"]], lr=lr, beta1=beta1, beta2=beta2, delta=delta),
        "torch": torch.optim.Adam([params["torch"]], lr=lr, betas=(beta1, beta2), eps=delta,
                                  amsgrad=True),
    }
    trace = {key: [] for key in ("ours", "torch", "ours_m2", "torch_m2", "m2_hat")}
    for t, g in enumerate(gradients, start=1):
        for name, optimizer in optimizers.items():
            params[name].grad = torch.tensor([float(g)], dtype=torch.float64)
            optimizer.step()
            trace[name].append(params[name].item())
        ours_state = optimizers["ours"].state[params["ours"]]
        torch_state = optimizers["torch"].state[params["torch"]]
        trace["ours_m2"].append(ours_state["m2_max"].item())
        trace["torch_m2"].append(torch_state["max_exp_avg_sq"].item() / (1 - beta2**t))
        trace["m2_hat"].append(ours_state["m2"].item() / (1 - beta2**t))
    return {key: np.asarray(value) for key, value in trace.items()}


def plot_amsgrad_variants(trace: dict[str, np.ndarray]):
    """Second moment in the denominator (left) and parameter path (right) of both variants."""
    steps = np.arange(1, len(trace["ours"]) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    left.plot(steps, trace["m2_hat"], color="0.6", lw=1, label=r"$\hat m_2$ (Adam)")
    left.plot(steps, trace["ours_m2"], label=r"homework: $\max_s \hat m_{2,s}$")
    left.plot(steps, trace["torch_m2"], "--", label=r"torch: $\max_s m_{2,s} / (1-\beta_2^t)$")
    left.set_yscale("log")
    left.set_xlabel("step $t$")
    left.set_title("second moment in the denominator")
    left.legend(fontsize=8)
    right.plot(steps, trace["ours"], label="homework AMSGrad")
    right.plot(steps, trace["torch"], "--", label="torch Adam(amsgrad=True)")
    right.set_xlabel("step $t$")
    right.set_title(r"parameter $\theta_t$")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def replay(make_optimizer: Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer],
           theta0: np.ndarray, gradients: Sequence[np.ndarray]) -> np.ndarray:
    """Run an optimizer on one float64 parameter fed the given ``gradients``, one per step.

    ``make_optimizer`` builds the optimizer from the parameter list (e.g.
    ``lambda params: RMSProp(params, lr=0.1)``). Returns the parameter after every step, shape
    ``(len(gradients), *theta0.shape)``.
    """
    theta0 = np.asarray(theta0, dtype=np.float64)
    param = torch.nn.Parameter(torch.tensor(theta0, dtype=torch.float64))
    optimizer = make_optimizer([param])
    path = []
    for i, g in enumerate(gradients):
        g = np.asarray(g, dtype=np.float64)
        if g.shape != theta0.shape:
            raise ValueError(f"gradients[{i}] must have the shape {theta0.shape} of theta0, "
                             f"got {g.shape}")
        param.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
        path.append(param.detach().numpy().copy())
    return np.array(path)


def homework_pseudocode(name: str, theta0: np.ndarray, gradients: Sequence[np.ndarray],
                        lr: float, **hyper: float) -> np.ndarray:
    """The homework's pseudocode of ``name`` transcribed line by line in NumPy (float64).

    ``name`` is ``"SGD"``, ``"MomentumSGD"`` (``rho``), ``"RMSProp"`` (``tau``, ``delta``) or
    ``"AMSGrad"`` (``beta1``, ``beta2``, ``delta``); the loop counter ``t`` starts at 0 as in
    the homework, so the bias corrections use ``t + 1``. Returns the parameter after every step,
    as :func:`replay` does, for an independent check of the library's optimizers.
    """
    needed = {"SGD": (), "MomentumSGD": ("rho",), "RMSProp": ("tau", "delta"),
              "AMSGrad": ("beta1", "beta2", "delta")}
    if name not in needed:
        raise ValueError(f"name must be one of {tuple(needed)}, got {name!r}")
    if sorted(hyper) != sorted(needed[name]):
        raise ValueError(f"{name} takes the hyperparameters {needed[name]}, got {tuple(hyper)}")
    theta = np.array(theta0, dtype=np.float64)
    zeros = np.zeros_like(theta)
    m, r, m1, m2, m2_max = zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy()
    path = []
    for t, g in enumerate(np.asarray(g, dtype=np.float64) for g in gradients):
        if name == "SGD":
            theta = theta - lr * g
        elif name == "MomentumSGD":
            m = hyper["rho"] * m + g
            theta = theta - lr * m
        elif name == "RMSProp":
            r = hyper["tau"] * r + (1 - hyper["tau"]) * g * g
            theta = theta - lr / (hyper["delta"] + np.sqrt(r)) * g
        else:
            beta1, beta2 = hyper["beta1"], hyper["beta2"]
            m1 = beta1 * m1 + (1 - beta1) * g
            m2 = beta2 * m2 + (1 - beta2) * g * g
            m1_hat, m2_hat = m1 / (1 - beta1 ** (t + 1)), m2 / (1 - beta2 ** (t + 1))
            m2_max = np.maximum(m2_max, m2_hat)
            theta = theta - lr * m1_hat / (hyper["delta"] + np.sqrt(m2_max))
        path.append(theta.copy())
    return np.array(path)
