"""Figures of the WGAN pages: samples with the critic's level sets, objective vs W1, metrics."""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import animation

from lib.gan.training import PLANE_RESOLUTION, TrainingRun

REAL_STYLE = {"s": 4, "c": "tab:blue", "alpha": 0.35, "label": "target"}
FAKE_STYLE = {"s": 4, "c": "tab:orange", "alpha": 0.35, "label": "generated"}


def _real_samples(run: TrainingRun, n: int) -> np.ndarray:
    return run.target.distribution().sample((n,)).numpy()


def _draw(ax, run: TrainingRun, i: int, real: np.ndarray, contour: bool = True):
    """Snapshot ``i``: the critic's level sets, target and generated samples."""
    if contour:
        xs = np.linspace(run.box[0], run.box[1], PLANE_RESOLUTION)
        ys = np.linspace(run.box[2], run.box[3], PLANE_RESOLUTION)
        ax.contourf(xs, ys, run.history.critic_values[i], levels=20, cmap="Greys", alpha=0.6)
    fake = run.history.samples[i][: len(real)]
    ax.scatter(real[:, 0], real[:, 1], **REAL_STYLE)
    ax.scatter(fake[:, 0], fake[:, 1], **FAKE_STYLE)
    ax.set(xlim=run.box[:2], ylim=run.box[2:], aspect="equal", xticks=[], yticks=[])


def plot_snapshots(run: TrainingRun, n_real: int = 1000, panels: int = 6, columns: int = 3):
    """Target vs generated samples at ``panels`` snapshots spread over training (the base code's
    figure), critic shading, ``columns`` panels a row (large enough to see a mode)."""
    h = run.history
    indices = sorted(set(np.linspace(0, len(h.samples) - 1, panels).round().astype(int).tolist()))
    real = _real_samples(run, n_real)
    rows = -(-len(indices) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.7 * rows), squeeze=False)
    for ax in axes.flat[len(indices) :]:
        ax.remove()
    for ax, i in zip(axes.flat, indices):
        _draw(ax, run, i, real)
        ax.set_title(f"k = {h.snapshot_iterations[i]}", fontsize=9)
    axes.flat[0].legend(loc="lower left", fontsize=7, markerscale=3)
    fig.tight_layout()
    return fig


def plot_objective_vs_w1(run: TrainingRun):
    """The critic's objective (eq. 2), the same divided by the critic's measured Lipschitz constant,
    and the exact W1, over training (symmetric log scale)."""
    h = run.history
    k, obj, lip = (np.asarray(v) for v in (h.snapshot_iterations, h.objective, h.lipschitz))
    fig, ax = plt.subplots(figsize=(6.2, 3.4))
    ax.plot(k, h.w1, "k-o", ms=3, label="exact $W_1$ (POT)")
    ax.plot(k, obj / lip, "-s", ms=3, c="tab:green", label="objective / measured $L$")
    ax.plot(k, obj, "-^", ms=3, c="tab:red", label="critic objective (eq. 2)")
    ax.set_yscale("symlog", linthresh=1e-3)  # logarithmic above 1e-3; the objective can be negative
    ax.set_xlabel("iteration k")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def training_animation(run: TrainingRun, n_points: int = 1000, interval_ms: int = 250):
    """A matplotlib animation of the samples and critic over training (HTML: ``.to_jshtml()``)."""
    h = run.history
    real = _real_samples(run, n_points)
    fig, ax = plt.subplots(figsize=(4.2, 4.2))

    def draw(i):
        ax.clear()
        _draw(ax, run, i, real)
        ax.set_title(f"iteration {h.snapshot_iterations[i]}", fontsize=9)

    anim = animation.FuncAnimation(fig, draw, frames=len(h.samples), interval=interval_ms)
    plt.close(fig)
    return anim


# matplotlib's HTML player draws its buttons with Font Awesome 4 icons from a CDN; the book is
# read offline, so the icons become plain Unicode glyphs and the stylesheet link goes.
_PLAYER_GLYPHS = {
    "fa fa-minus": "&minus;",
    "fa fa-fast-backward": "&#x25C0;&#x25C0;",
    "fa fa-step-backward": "|&#x25C0;",
    "fa fa-play fa-flip-horizontal": "&#x25C0;",
    "fa fa-pause": "||",
    "fa fa-play": "&#x25B6;",
    "fa fa-step-forward": "&#x25B6;|",
    "fa fa-fast-forward": "&#x25B6;&#x25B6;",
    "fa fa-plus": "+",
}


def animation_html(anim: animation.Animation, default_mode: str = "once") -> str:
    """The animation as a self-contained HTML player that loads nothing from the network."""
    html = anim.to_jshtml(default_mode=default_mode)
    html = re.sub(r"<link[^>]*font-awesome[^>]*>", "", html)
    for icon, glyph in _PLAYER_GLYPHS.items():
        html = html.replace(f'<i class="{icon}"></i>', glyph)
    return html


def plot_final_samples(runs: dict, methods: list[str], targets: list[str], n_points: int = 1000):
    """A grid of final samples: one row per target, one column per method (first seed of each)."""
    fig, axes = plt.subplots(
        len(targets), len(methods), figsize=(2.5 * len(methods), 2.5 * len(targets)), squeeze=False
    )
    for r, target in enumerate(targets):
        for c, method in enumerate(methods):
            ax = axes[r][c]
            run = runs[(method, target)]
            _draw(ax, run, -1, _real_samples(run, n_points), contour=False)
            if r == 0:
                ax.set_title(method.replace("_", " "), fontsize=9)
            if c == 0:
                ax.set_ylabel(target.replace("_", " "), fontsize=9)
    fig.tight_layout()
    return fig


def plot_seed_curves(ax, curves: dict, ylabel: str, lines: dict | None = None, scale: float = 1.0):
    """Mean ± sample std over seeds of a metric along training, one line per setting, on ``ax``.

    ``curves`` maps a label to ``(iterations, values)`` with ``values`` of shape (seeds, snapshots);
    ``lines`` maps a label to a level drawn as a dashed horizontal line; ``scale`` multiplies the
    values and levels (100 for percent).
    """
    for label, (iterations, values) in curves.items():
        values = scale * np.asarray(values, dtype=float)
        mean = values.mean(axis=0)
        std = values.std(axis=0, ddof=1) if len(values) > 1 else np.zeros_like(mean)
        (line,) = ax.plot(iterations, mean, "-o", ms=3, label=label)
        ax.fill_between(iterations, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    for (label, level), style in zip((lines or {}).items(), ("--", ":", "-.")):
        ax.axhline(scale * level, color="k", ls=style, lw=1, label=label)
    ax.set_xlabel("iteration k")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
