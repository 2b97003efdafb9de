"""Target distributions, the generator's noise, and each run's own seeded draws.

Each target is an equal-weight mixture of isotropic Gaussians in the plane, a
:class:`torch.distributions.MixtureSameFamily` built from its mode centres and one std per axis:

* ``two_gaussians`` — the course's base code: centres (0, 0) and (2, 0), std 0.5.
* ``ring`` — 8 modes evenly spaced on a circle of radius 2, std 0.05 (3 std = 0.15, a tenth of
  the 1.53 gap between neighbours), sized for a generator with a single hidden layer.
* ``grid`` — 25 modes on {−2, −1, 0, 1, 2}², std 0.05 (3 std = 0.15 against a spacing of 1).
* ``pacgan_ring`` and ``pacgan_grid`` — PacGAN's (Lin et al. 2018, its synthetic-data configs):
  8 modes on a circle of radius 1 with std 0.01, and 25 modes on {−4, −2, 0, 2, 4}² with std 0.05.

Eq. 2's expectation is over the empirical measure μ̂_n: each run draws its n target samples once,
with the mixture's ``MixtureSameFamily.sample`` (:func:`training_set`), and every minibatch is
drawn uniformly from them (:func:`draw_block`): each index is ``floor(U)`` for ``U`` from a
``torch.distributions.Uniform`` on [0, n), in float64 so that all n indices are equally likely to
within 2⁻⁵³·n (a ``Categorical`` over 10⁵ indices, the same law, took longer than the training
steps). The noise comes from a standard ``Normal`` and
the gradient penalty's interpolation weights from a ``Uniform``.

Each run draws from its own stream (:class:`RunStream`): the state of torch's global generator,
seeded with the run's seed and swapped in only while that run draws, ``block`` iterations at a
time. A run therefore sees the same numbers alone or stacked with others; its snapshots draw from
a second stream, so that taking one does not shift the training draws.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import distributions as D

RING_RADIUS = 2.0  # radius of the circle carrying the 8 ring modes
RING_MODES = 8  # number of ring modes
GRID_COORDINATES = (-2.0, -1.0, 0.0, 1.0, 2.0)  # grid modes: every pair of these coordinates
MIXTURE_STD = 0.05  # std per axis of every mode of our ring and grid, and of PacGAN's grid
PACGAN_RING = (1.0, 0.01)  # PacGAN's ring: radius and std of its 8 modes
PACGAN_GRID = (-4.0, -2.0, 0.0, 2.0, 4.0)  # PacGAN's grid coordinates (std MIXTURE_STD)
TWO_GAUSSIANS_STD = 0.5  # std per axis of the base code's two modes
BLOCK = 100  # iterations drawn at once: amortises the calls, small in memory
EVALUATION_STREAM = 2**32  # added to the seed for a run's snapshot stream (seeds are < 2**32)


@dataclass(frozen=True)
class GaussianMixture:
    """An equal-weight mixture of isotropic Gaussians: its centres, std and the distribution."""

    name: str
    means: torch.Tensor  # (n_modes, dim)
    std: float

    @property
    def n_modes(self) -> int:
        return self.means.shape[0]

    def distribution(self, dtype: torch.dtype = torch.float32) -> D.MixtureSameFamily:
        """The mixture as a ``torch.distributions`` object."""
        means = self.means.to(dtype)
        weights = D.Categorical(probs=torch.full((self.n_modes,), 1.0 / self.n_modes, dtype=dtype))
        return D.MixtureSameFamily(weights, D.Independent(D.Normal(means, self.std), 1))

    def sample(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Draws of shape ``(*shape, dim)`` with ``MixtureSameFamily.sample``."""
        return self.distribution(dtype).sample(shape)


def make_target(name: str) -> GaussianMixture:
    """The target called ``name`` (one of :data:`lib.gan.config.TARGETS`)."""
    if name == "two_gaussians":
        return GaussianMixture(name, torch.tensor([[0.0, 0.0], [2.0, 0.0]]), TWO_GAUSSIANS_STD)
    if name in ("ring", "pacgan_ring"):
        radius, std = (RING_RADIUS, MIXTURE_STD) if name == "ring" else PACGAN_RING
        angles = torch.arange(RING_MODES, dtype=torch.float32) * (2 * math.pi / RING_MODES)
        return GaussianMixture(name, radius * torch.stack([angles.cos(), angles.sin()], 1), std)
    coords = torch.tensor(PACGAN_GRID if name == "pacgan_grid" else GRID_COORDINATES)
    return GaussianMixture(name, torch.cartesian_prod(coords, coords), MIXTURE_STD)


def make_noise(noise_dim: int, dtype: torch.dtype = torch.float32) -> D.Independent:
    """The generator's noise p_Ω: a standard normal in R^noise_dim."""
    zeros = torch.zeros(noise_dim, dtype=dtype)
    return D.Independent(D.Normal(zeros, torch.ones_like(zeros)), 1)


class RunStream:
    """One run's random stream: a saved state of torch's generator, active only while drawing."""

    def __init__(self, seed: int):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.state = torch.get_rng_state()

    @contextmanager
    def active(self):
        """Draw from this stream inside the block; the global generator is left as it was."""
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.state)
            yield
            self.state = torch.get_rng_state()


def training_set(target: GaussianMixture, n: int, stream: RunStream, dtype) -> torch.Tensor:
    """The run's n target samples behind μ̂_n, drawn once from its stream: shape (n, dim)."""
    with stream.active():
        return target.sample((n,), dtype)


def draw_block(
    data: torch.Tensor, noise_dim: int, batch: int, stream: RunStream, dtype: torch.dtype
) -> tuple[torch.Tensor, ...]:
    """``BLOCK`` iterations of one run's training draws, each with a leading axis of BLOCK:
    real (·, batch, dim) drawn uniformly from the run's samples ``data`` (a ~ μ̂_n), critic
    noise and generator noise (·, batch, noise_dim), and the gradient penalty's interpolation
    weights (·, batch, 1)."""
    noise, shape = make_noise(noise_dim, dtype), (BLOCK, batch)
    indices = D.Uniform(torch.tensor(0.0, dtype=torch.float64), float(len(data)))
    with stream.active():
        real = data[indices.sample(shape).long()]
        critic_noise, generator_noise = noise.sample(shape), noise.sample(shape)
        mix = D.Uniform(torch.zeros((), dtype=dtype), 1.0).sample((*shape, 1))
    return real, critic_noise, generator_noise, mix
