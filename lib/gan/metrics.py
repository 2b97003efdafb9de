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
* Seed statistics: mean ± std of a run's final metrics over seeds, diverged runs left out and
  counted, and the rule by which the book ranks two settings (the gap between the means exceeds
  the sum of their standard deviations).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import ot
import torch

from lib.gan.networks import check_input
from lib.gan.targets import GaussianMixture
from lib.validation import check_int

HIGH_QUALITY_STDS = 3.0  # a sample is high-quality within this many std of its nearest mode


@dataclass(frozen=True)
class ModeMetrics:
    """Mode coverage of a set of samples."""

    modes_covered: int  # modes with at least one high-quality sample
    n_modes: int
    high_quality: float  # share of samples within 3 std of their nearest mode, in [0, 1]
    counts: np.ndarray  # high-quality samples per mode


def nearest_modes(samples: torch.Tensor, means: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of each sample's nearest mode centre and the distance to it."""
    check_input(samples, means.shape[1], "samples")
    distances = torch.cdist(samples, means)
    dist, index = distances.min(dim=1)
    return index, dist


def mode_metrics(samples: torch.Tensor, means: torch.Tensor, std: float) -> ModeMetrics:
    """Modes covered and share of high-quality samples (PacGAN / VEEGAN definitions)."""
    if not std > 0:
        raise ValueError(f"std must be positive, got {std!r}")
    index, dist = nearest_modes(samples, means)
    good = dist <= HIGH_QUALITY_STDS * std
    counts = torch.bincount(index[good], minlength=means.shape[0]).numpy()
    share = float(good.float().mean()) if len(samples) else float("nan")
    return ModeMetrics(int((counts > 0).sum()), int(means.shape[0]), share, counts)


def wasserstein1(x: torch.Tensor, y: torch.Tensor) -> float:
    """Exact W1 between the empirical measures of ``x`` and ``y``.

    Uniform weights on the samples, Euclidean ground cost.
    """
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(
            f"x and y must be (n, dim) and (m, dim), got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    xs = x.detach().double().numpy()
    ys = y.detach().double().numpy()
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        return float("nan")
    cost = ot.dist(xs, ys, metric="euclidean")
    a = np.full(len(xs), 1.0 / len(xs))
    b = np.full(len(ys), 1.0 / len(ys))
    return float(ot.emd2(a, b, cost, numItermax=1_000_000))


def plane_grid(box: tuple[float, float, float, float], resolution: int) -> torch.Tensor:
    """``resolution``² points covering the box (xmin, xmax, ymin, ymax): shape (resolution², 2)."""
    xmin, xmax, ymin, ymax = box
    if not (xmax > xmin and ymax > ymin):
        raise ValueError(f"box must satisfy xmin < xmax and ymin < ymax, got {box}")
    check_int("resolution", resolution, minimum=2)
    xs = torch.linspace(xmin, xmax, resolution)
    ys = torch.linspace(ymin, ymax, resolution)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], dim=1)


def critic_gradient_norms(critic: torch.nn.Module, points: torch.Tensor) -> torch.Tensor:
    """‖∇d(a)‖ at every row of ``points``."""
    points = points.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(points).sum(), points)
    return grad.norm(dim=1)


def lipschitz_estimate(
    critic: torch.nn.Module, box: tuple[float, float, float, float], resolution: int = 200
) -> float:
    """Largest gradient norm of the critic over a ``resolution``² grid of ``box``."""
    return float(critic_gradient_norms(critic, plane_grid(box, resolution)).max())


@dataclass(frozen=True)
class NoiseFloor:
    """W1 between two independent target samples of ``n`` points each, over ``repeats`` draws."""

    mean: float
    std: float
    n: int
    repeats: int


def sample_target(target: GaussianMixture, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` draws of the equal-weight mixture ``target`` from ``generator`` (not the global RNG):
    a uniformly chosen centre plus isotropic Gaussian noise of the target's std."""
    check_int("n", n, minimum=1)
    index = torch.randint(target.n_modes, (n,), generator=generator)
    noise = torch.randn((n, target.dim), generator=generator, dtype=target.means.dtype)
    return target.means[index] + target.std * noise


def w1_noise_floor(target: GaussianMixture, n: int, repeats: int = 5, seed: int = 0) -> NoiseFloor:
    """Mean ± std over ``repeats`` of the exact W1 between two independent ``n``-point samples of
    ``target``: what a generator equal to the target scores with ``n`` evaluation samples."""
    check_int("n", n, minimum=1)
    check_int("repeats", repeats, minimum=1)
    check_int("seed", seed, minimum=0)
    generator = torch.Generator().manual_seed(seed)
    values = np.array(
        [
            wasserstein1(sample_target(target, n, generator), sample_target(target, n, generator))
            for _ in range(repeats)
        ]
    )
    return NoiseFloor(float(values.mean()), float(values.std()), n, repeats)


@dataclass(frozen=True)
class SeedSummary:
    """Mean and std over the finished (not diverged) runs of one setting.

    ``diverged`` counts the runs left out.
    """

    mean: dict
    std: dict
    runs: int  # runs behind the mean and std
    diverged: int  # runs left out because their loss became non-finite


def seed_summary(finals: Sequence[Mapping], keys: Sequence[str]) -> SeedSummary:
    """Aggregate the ``final`` metrics of several runs of one setting (one dict per seed).

    A run whose ``"diverged"`` entry is true is left out of the mean and the std and counted; with
    no finished run, every mean and std is NaN.
    """
    if not finals:
        raise ValueError("finals must hold at least one run's metrics")
    if isinstance(keys, str) or not keys:
        raise ValueError(f"keys must be a non-empty sequence of metric names, got {keys!r}")
    for i, final in enumerate(finals):
        missing = [key for key in keys if key not in final]
        if missing:
            raise ValueError(f"finals[{i}] lacks the metrics {missing}")
    kept = [final for final in finals if not final.get("diverged", False)]
    mean, std = {}, {}
    for key in keys:
        values = np.array([float(final[key]) for final in kept])
        mean[key] = float(values.mean()) if len(values) else float("nan")
        std[key] = float(values.std()) if len(values) else float("nan")
    return SeedSummary(mean, std, len(kept), len(finals) - len(kept))


def clearly_greater(a: SeedSummary, b: SeedSummary, key: str) -> bool:
    """Whether ``a``'s mean of ``key`` exceeds ``b``'s by more than the sum of their stds.

    The book ranks two settings only when this holds. A setting with fewer than two finished runs
    has no measured spread, so nothing is ranked against it (the answer is False).
    """
    for name, summary in (("a", a), ("b", b)):
        if key not in summary.mean:
            raise ValueError(f"{name} has no metric {key!r}; it has {sorted(summary.mean)}")
    if a.runs < 2 or b.runs < 2:
        return False
    gap = a.mean[key] - b.mean[key]
    return bool(gap > a.std[key] + b.std[key])
