"""Target distributions: mixtures of isotropic Gaussians in the plane, and the noise.

Each target is a :class:`torch.distributions.MixtureSameFamily` with equal weights, built from its
mode centres and one standard deviation per axis. The three targets:

* ``two_gaussians`` — the course's base code: centres (0, 0) and (2, 0), std 0.5.
* ``ring`` — 8 modes evenly spaced on a circle of radius 2, std 0.05. PacGAN (Lin et al. 2018)
  uses radius 1 and std 0.01; we double the radius and keep the modes small (3 std = 0.15, a tenth
  of the 1.53 gap between neighbours) so that the ring suits a generator with a single hidden layer.
* ``grid`` — 25 modes on {−2, −1, 0, 1, 2}², std 0.05: PacGAN's {−4, …, 4}² grid of step 2 scaled
  by one half, with its std 0.05 kept (3 std = 0.15 against a spacing of 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import distributions as D

from lib.validation import check_int

TARGETS = ("two_gaussians", "ring", "grid")

RING_RADIUS = 2.0  # radius of the circle carrying the 8 ring modes
RING_MODES = 8  # number of ring modes
GRID_COORDINATES = (-2.0, -1.0, 0.0, 1.0, 2.0)  # grid modes: every pair of these coordinates
MIXTURE_STD = 0.05  # std per axis of every ring and grid mode
TWO_GAUSSIANS_STD = 0.5  # std per axis of the base code's two modes


@dataclass(frozen=True)
class GaussianMixture:
    """An equal-weight mixture of isotropic Gaussians: its centres, std and the distribution."""

    name: str
    means: torch.Tensor  # (n_modes, dim)
    std: float

    @property
    def n_modes(self) -> int:
        return self.means.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def distribution(self) -> D.MixtureSameFamily:
        """The mixture as a ``torch.distributions`` object (draw with ``.sample((n,))``)."""
        weights = D.Categorical(probs=torch.full((self.n_modes,), 1.0 / self.n_modes))
        components = D.Independent(D.Normal(self.means, torch.full_like(self.means, self.std)), 1)
        return D.MixtureSameFamily(weights, components)


def make_target(name: str) -> GaussianMixture:
    """The target called ``name`` (one of :data:`TARGETS`)."""
    if name == "two_gaussians":
        means = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
        return GaussianMixture(name, means, TWO_GAUSSIANS_STD)
    if name == "ring":
        angles = torch.arange(RING_MODES, dtype=torch.float32) * (2 * math.pi / RING_MODES)
        means = RING_RADIUS * torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
        return GaussianMixture(name, means, MIXTURE_STD)
    if name == "grid":
        coords = torch.tensor(GRID_COORDINATES)
        means = torch.cartesian_prod(coords, coords)
        return GaussianMixture(name, means, MIXTURE_STD)
    raise ValueError(f"target must be one of {TARGETS}, got {name!r}")


def make_noise(noise_dim: int) -> D.MultivariateNormal:
    """The generator's noise p_Ω: a standard normal in R^noise_dim."""
    check_int("noise_dim", noise_dim, minimum=1)
    return D.MultivariateNormal(torch.zeros(noise_dim), torch.eye(noise_dim))
