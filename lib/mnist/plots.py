"""Figures of the optimizer benchmark (homework §2): one panel per learning rate."""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter

from lib.mnist.training import RunResult


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
        out[i, : len(s)] = s
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
            band = np.nanmin(losses, axis=0), np.nanmax(losses, axis=0)
            ax.fill_between(x, *band, color=line.get_color(), alpha=0.2, lw=0)
            for r in runs:
                if r.diverged and r.loss_trace:
                    end = len(r.loss_trace) / points_per_epoch, r.loss_trace[-1]
                    ax.plot(*end, "x", color=line.get_color(), ms=8)
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
            epochs = np.arange(1, accuracy.shape[1] + 1)
            with np.errstate(all="ignore"):
                ax.plot(epochs, np.nanmean(accuracy, axis=0), marker="o", ms=3, label=name)
        ax.set_title(f"lr = {lr:g}")
        ax.set_ylim(0, 1)
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    return fig
