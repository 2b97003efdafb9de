"""Figures of the minimax chapter: GDA's outward spiral and the four methods compared."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from lib.minimax.analysis import METHODS, SADDLE, STEP_SIZE_LIMITS, iterate

LABELS = {m: m + " GDA" * (m != "extragradient") for m in METHODS}
COLOURS = {"simultaneous": "C3", "alternating": "C1", "extragradient": "C0", "optimistic": "C2"}


def _mark_points(ax):
    """The saddle z* and the origin, which the homework measures distances from."""
    ax.plot(*SADDLE, marker="*", color="k", markersize=11, linestyle="none", label="$z^*=(1,1)$")
    ax.plot(0, 0, marker="+", color="0.3", markersize=10, linestyle="none", label="origin")


def _contours(ax, xlim, ylim):
    """Light level sets of f(x, y) = (x-1)(y-1): hyperbolas around the saddle."""
    xs, ys = np.linspace(*xlim, 200), np.linspace(*ylim, 200)
    grid_x, grid_y = np.meshgrid(xs, ys)
    values = (grid_x - 1) * (grid_y - 1)
    bound = float(np.abs(values).max())
    levels = np.linspace(-bound, bound, 15)
    ax.contour(grid_x, grid_y, values, levels=levels, colors="0.85", linewidths=0.6)


def plot_gda_divergence(gammas, z0, steps, spiral_gamma, spiral_steps):
    """Left: ||z_k|| of simultaneous GDA on a log scale with the closed-form rate; right: spiral.

    Markers are the float64 iterates' distances to the origin; lines are the closed form
    (1 + gamma^2)^(k/2) ||z_0 - z*|| of the distance to z*, and the shaded bands the bounds
    +- sqrt(2) around it that the distance to the origin must stay within.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    k = np.arange(steps + 1)
    w0 = float(np.linalg.norm(np.asarray(z0, dtype=float) - np.array(SADDLE)))
    for i, gamma in enumerate(gammas):
        path = iterate("simultaneous", gamma, z0, steps)
        colour = f"C{i}"
        growth = (1 + gamma**2) ** (k / 2) * w0
        band = (np.maximum(growth - np.sqrt(2), 1e-2), growth + np.sqrt(2))
        left.fill_between(k, *band, color=colour, alpha=0.12, linewidth=0)
        left.semilogy(k, growth, "-", color=colour, linewidth=1.2, label=rf"$\gamma={gamma:g}$")
        left.semilogy(k, np.linalg.norm(path, axis=1), "o", color=colour, markersize=2.5)
    left.plot([], [], "o", color="0.4", markersize=3, label=r"$\|z_k\|$, iterates")
    left.plot([], [], "-", color="0.4", label=r"$(1+\gamma^2)^{k/2}\,\|z_0-z^*\|$")
    left.fill_between([], [], [], color="0.4", alpha=0.2, label=r"$\pm\sqrt{2}$")
    left.set(xlabel="iteration $k$", ylabel="distance to the origin", ylim=(0.1, None))
    left.set_title("Simultaneous GDA: geometric growth")
    left.legend(fontsize=8, loc="upper left")

    path = iterate("simultaneous", spiral_gamma, z0, spiral_steps)
    reach = 1.08 * float(np.abs(path - np.array(SADDLE)).max())
    xlim = (SADDLE[0] - reach, SADDLE[0] + reach)
    ylim = (SADDLE[1] - reach, SADDLE[1] + reach)
    _contours(right, xlim, ylim)
    label = rf"iterates, $\gamma={spiral_gamma:g}$"
    right.plot(*path.T, "-o", color="C3", markersize=2.5, linewidth=0.8, label=label)
    right.plot(*path[0], "s", color="k", markersize=5, label="$z_0$")
    _mark_points(right)
    right.set(xlim=xlim, ylim=ylim, aspect="equal", xlabel="$x$", ylabel="$y$")
    right.set_title(f"Outward spiral ({spiral_steps} steps)")
    right.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def plot_method_trajectories(gamma, z0, steps):
    """Top: each method's path in the plane; bottom: ||z_k - z*|| for all four, log scale."""
    fig = plt.figure(figsize=(12, 7))
    grid = fig.add_gridspec(2, len(METHODS), height_ratios=(1, 0.9))
    saddle = np.array(SADDLE)
    bottom = fig.add_subplot(grid[1, :])
    for j, method in enumerate(METHODS):
        path = iterate(method, gamma, z0, steps)
        ax = fig.add_subplot(grid[0, j])
        reach = 1.1 * float(np.abs(path - saddle).max())
        xlim, ylim = (1 - reach, 1 + reach), (1 - reach, 1 + reach)
        _contours(ax, xlim, ylim)
        ax.plot(path[:, 0], path[:, 1], "-", color=COLOURS[method], linewidth=0.9)
        ax.plot(*path[0], "s", color="k", markersize=4)
        ax.plot(*SADDLE, marker="*", color="k", markersize=10)
        ax.set(xlim=xlim, ylim=ylim, aspect="equal", title=LABELS[method], xlabel="$x$")
        if j == 0:
            ax.set_ylabel("$y$")
        bottom.semilogy(
            np.linalg.norm(path - saddle, axis=1), color=COLOURS[method], label=LABELS[method]
        )
    bottom.set(
        xlabel="iteration $k$",
        ylabel=r"$\|z_k - z^*\|$",
        title=rf"Distance to the saddle point, $\gamma = {gamma:g}$, $z_0 = {tuple(z0)}$",
    )
    bottom.legend(fontsize=8, ncol=4, loc="lower left")
    fig.tight_layout()
    return fig


def plot_spectral_radii(gammas, radii, measured_gammas, measured):
    """Spectral radius against step size: closed forms (lines) and rates measured by running
    each method (markers); the dotted verticals are :data:`STEP_SIZE_LIMITS`.

    ``radii`` and ``measured`` map each method to values at ``gammas`` / ``measured_gammas``.
    """
    fig, ax = plt.subplots(figsize=(8, 4.6))
    for method in METHODS:
        ax.plot(gammas, radii[method], color=COLOURS[method], label=LABELS[method])
        style = {"color": COLOURS[method], "markersize": 4, "markerfacecolor": "none"}
        ax.plot(measured_gammas, measured[method], "o", **style)
        limit = STEP_SIZE_LIMITS[method]
        if limit > 0:
            ax.axvline(limit, color=COLOURS[method], linestyle=":", linewidth=1)
    ax.axhline(1.0, color="k", linewidth=0.8)
    ax.plot([], [], "o", color="0.4", markerfacecolor="none", label="measured by running")
    ax.set(xlabel=r"step size $\gamma$", ylabel=r"spectral radius $\rho(M_\gamma)$")
    ax.set(ylim=(0.6, 2.6), xlim=(0, float(np.max(gammas))))
    ax.set_title("Converges below 1, diverges above 1")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig
