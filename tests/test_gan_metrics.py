"""Targets and metrics: mixtures, mode coverage, exact W1, the critic's Lipschitz constant."""

import math

import numpy as np
import pytest
import torch

from lib.gan.metrics import mode_metrics, w1_noise_floor, wasserstein1
from lib.gan.targets import GaussianMixture, make_target


@pytest.mark.parametrize(
    ("name", "n_modes", "std"), [("two_gaussians", 2, 0.5), ("ring", 8, 0.05), ("grid", 25, 0.05)]
)
def test_targets_have_their_modes_and_samples_follow_them(name, n_modes, std):
    torch.manual_seed(0)
    target = make_target(name)
    assert target.n_modes == n_modes and target.std == std
    samples = target.distribution().sample((4000,))
    assert samples.shape == (4000, 2)
    metrics = mode_metrics(samples, target.means, target.std)
    assert metrics.modes_covered == n_modes
    if name != "two_gaussians":  # well separated modes: 1 - exp(-9/2) ≈ 98.9 % lie within 3 std
        assert metrics.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)


def test_ring_modes_lie_on_the_circle_and_grid_modes_on_the_lattice():
    assert torch.allclose(make_target("ring").means.norm(dim=1), torch.full((8,), 2.0))
    grid = make_target("grid").means
    assert set(grid.flatten().tolist()) == {-2.0, -1.0, 0.0, 1.0, 2.0}


def test_mode_metrics_on_hand_made_samples():
    means = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    samples = torch.tensor([[0.1, 0.0], [0.0, 0.2], [9.0, 0.0], [5.0, 5.0]])
    m = mode_metrics(samples, means, std=0.1)  # high-quality within 0.3
    assert m.modes_covered == 1 and m.n_modes == 3
    assert m.high_quality == pytest.approx(0.5)
    np.testing.assert_array_equal(m.counts, [2, 0, 0])


def test_wasserstein1_of_a_translation_is_its_length():
    torch.manual_seed(0)
    x = torch.randn(300, 2)
    assert wasserstein1(x, x + torch.tensor([0.3, 0.4])) == pytest.approx(0.5, abs=1e-6)
    assert wasserstein1(x, x) == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(wasserstein1(x, torch.full_like(x, float("nan"))))


def test_w1_noise_floor_matches_the_one_dimensional_limit():
    # For two independent n-samples of a 1-D law F, √n·E W1 → √2 · √(2/π) · ∫ √(F(1 − F)) dx
    # (the L1 norm of a Brownian bridge composed with F, del Barrio et al. 1999); here F = N(0, 1).
    target = GaussianMixture("normal", torch.zeros(1, 1, dtype=torch.float64), 1.0)
    n = 400
    x = np.linspace(-10.0, 10.0, 20_001)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    integral = float(np.trapezoid(np.sqrt(cdf * (1 - cdf)), x))
    expected = math.sqrt(2) * math.sqrt(2 / math.pi) * integral / math.sqrt(n)
    floor = w1_noise_floor(target, n, repeats=60, seed=1)
    assert floor.n == 60  # pairs of samples
    assert floor.mean == pytest.approx(expected, rel=0.1)
    assert 0 < floor.std < floor.mean


def test_w1_noise_floor_shrinks_with_the_sample_size_and_is_reproducible():
    ring = make_target("ring")
    small, large = w1_noise_floor(ring, 100, repeats=8), w1_noise_floor(ring, 800, repeats=8)
    assert small.mean - large.mean > small.std + large.std
    assert w1_noise_floor(ring, 100, repeats=3, seed=4) == w1_noise_floor(
        ring, 100, repeats=3, seed=4
    )
