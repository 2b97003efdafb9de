"""How good is a generator on a mixture of Gaussians, and how Lipschitz is a critic.

* Mode metrics of PacGAN (Lin et al. 2018) and VEEGAN (Srivastava et al. 2017): every generated
  sample is assigned to its nearest mode centre; it is *high-quality* if it lies within three
  standard deviations (Euclidean distance ≤ 3·std) of that centre; a mode is *covered* if at least
  one high-quality sample is assigned to it.
* The exact Wasserstein-1 distance between two equal-size samples (an optimal assignment, solved
  with POT's network simplex ``ot.emd2``; Flamary et al. 2021).
* The noise floor of that W1: the distance between two *independent* samples of the target itself,
  of the same size. A perfect generator scores this much on average, so a gap between two runs
  means something only when it is large against the floor and its spread.
* The critic's Lipschitz constant on a box: the largest gradient norm over a fine grid (the critic
  is piecewise linear, so the gradient is piecewise constant and a fine grid finds its maximum on
  the region the samples live in).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ot
import torch

from lib.gan.targets import GaussianMixture, RunStream
from lib.stats import SeedStats, seed_stats

HIGH_QUALITY_STDS = 3.0  # a sample is high-quality within this many std of its nearest mode


@dataclass(frozen=True)
class ModeMetrics:
    """Mode coverage of a set of samples."""

    modes_covered: int  # modes with at least one high-quality sample
    n_modes: int
    high_quality: float  # share of samples within 3 std of their nearest mode, in [0, 1]
    counts: np.ndarray  # high-quality samples per mode


def mode_metrics(samples: torch.Tensor, means: torch.Tensor, std: float) -> ModeMetrics:
    """Modes covered and share of high-quality samples (PacGAN / VEEGAN definitions)."""
    dist, index = torch.cdist(samples, means).min(dim=1)  # to each sample's nearest centre
    good = dist <= HIGH_QUALITY_STDS * std
    counts = torch.bincount(index[good], minlength=means.shape[0]).numpy()
    share = float(good.float().mean()) if len(samples) else float("nan")
    return ModeMetrics(int((counts > 0).sum()), int(means.shape[0]), share, counts)


def wasserstein1(x: torch.Tensor, y: torch.Tensor) -> float:
    """Exact W1 between the empirical measures of ``x`` and ``y``: uniform weights on the samples
    (POT's default for empty weight lists), Euclidean ground cost."""
    xs, ys = x.detach().double().numpy(), y.detach().double().numpy()
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        return float("nan")
    cost = ot.dist(xs, ys, metric="euclidean")
    return float(ot.emd2([], [], cost, numItermax=1_000_000))


def plane_grid(box: tuple[float, float, float, float], resolution: int) -> torch.Tensor:
    """``resolution``² points covering the box (xmin, xmax, ymin, ymax): shape (resolution², 2)."""
    xmin, xmax, ymin, ymax = box
    xs = torch.linspace(xmin, xmax, resolution)
    ys = torch.linspace(ymin, ymax, resolution)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


FLOOR_REPEATS = 10  # pairs of independent samples behind each noise floor


def w1_noise_floor(target: GaussianMixture, n: int, repeats=FLOOR_REPEATS, seed=0) -> SeedStats:
    """The exact W1 between two independent ``n``-point samples of ``target``, over ``repeats``
    pairs: what a generator equal to the target scores with ``n`` evaluation samples. Both GAN
    pages call it with the defaults, so each (target, n) has one floor in the book."""
    stream = RunStream(seed)
    with stream.active():
        values = [wasserstein1(target.sample((n,)), target.sample((n,))) for _ in range(repeats)]
    return seed_stats(values)
