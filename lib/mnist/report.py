"""Tables and figures of the optimizer benchmark (homework §2), built from :class:`RunResult` s.

* :func:`summarize`: final test accuracy per (optimizer, learning rate), mean ± std over seeds;
* :func:`accuracy_table`: that summary as a Markdown table;
* :func:`plot_loss_curves`, :func:`plot_test_accuracy`: one panel per learning rate;
* :func:`amsgrad_second_moments`, :func:`plot_amsgrad_variants`: how the homework's AMSGrad
  and ``torch.optim.Adam(amsgrad=True)`` treat the same gradient sequence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter
import numpy as np
import torch

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

    The best mean of each column is in bold.
    """
    optimizers = list(dict.fromkeys(name for name, _ in summaries))
    rates = list(dict.fromkeys(lr for _, lr in summaries))
    best = {lr: max((s.mean for (_, r), s in summaries.items() if r == lr and s.accuracies),
                    default=math.nan) for lr in rates}
    lines = ["| optimizer | " + " | ".join(f"lr = {lr:g}" for lr in rates) + " |",
             "|---|" + "---:|" * len(rates)]
    for name in optimizers:
        cells = []
        for lr in rates:
            summary = summaries[(name, lr)]
            cell = _cell(summary)
            cells.append(f"**{cell}**" if summary.accuracies and summary.mean == best[lr]
                         else cell)
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

    Returns the step-by-step parameter values of :class:`lib.optim.optimizers.AMSGrad` (``ours``) and
    of ``torch.optim.Adam(amsgrad=True)`` (``torch``), and the second moment each divides by:
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
