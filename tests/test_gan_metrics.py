"""Targets and metrics: mixtures, mode coverage, exact W1, the critic's Lipschitz constant."""

import math

import numpy as np
import pytest
import torch

from lib.gan.metrics import lipschitz_estimate, mode_metrics, plane_grid, wasserstein1
from lib.gan.networks import DualVariable
from lib.gan.targets import make_noise, make_target


@pytest.mark.parametrize(("name", "n_modes", "std"), [("two_gaussians", 2, 0.5), ("ring", 8, 0.05), ("grid", 25, 0.05)])
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


def test_unknown_target_and_bad_noise_dimension_raise():
    with pytest.raises(ValueError, match="target must be one of"):
        make_target("spiral")
    with pytest.raises(ValueError, match="noise_dim must be a positive integer"):
        make_noise(0)


def test_mode_metrics_on_hand_made_samples():
    means = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    samples = torch.tensor([[0.1, 0.0], [0.0, 0.2], [9.0, 0.0], [5.0, 5.0]])
    m = mode_metrics(samples, means, std=0.1)  # high-quality within 0.3
    assert m.modes_covered == 1 and m.n_modes == 3
    assert m.high_quality == pytest.approx(0.5)
    np.testing.assert_array_equal(m.counts, [2, 0, 0])
    with pytest.raises(ValueError, match="samples must have shape"):
        mode_metrics(torch.zeros(3, 3), means, 0.1)


def test_wasserstein1_of_a_translation_is_its_length():
    torch.manual_seed(0)
    x = torch.randn(300, 2)
    assert wasserstein1(x, x + torch.tensor([0.3, 0.4])) == pytest.approx(0.5, abs=1e-6)
    assert wasserstein1(x, x) == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(wasserstein1(x, torch.full_like(x, float("nan"))))
    with pytest.raises(ValueError, match="x and y must be"):
        wasserstein1(x, torch.zeros(3, 3))


def test_lipschitz_estimate_of_a_linear_critic_is_its_slope():
    d = DualVariable(hidden_dim=1)
    with torch.no_grad():
        d.hidden.weight.copy_(torch.tensor([[3.0, 4.0]]))
        d.hidden.bias.fill_(100.0)  # the relu is always active: d is linear with slope 5 * 0.5
        d.output.weight.fill_(0.5)
    assert lipschitz_estimate(d, (-1.0, 1.0, -1.0, 1.0), resolution=20) == pytest.approx(2.5)


def test_plane_grid_validates_its_box():
    assert plane_grid((0.0, 1.0, 0.0, 2.0), 3).shape == (9, 2)
    with pytest.raises(ValueError, match="box must satisfy"):
        plane_grid((1.0, 0.0, 0.0, 1.0), 3)
    with pytest.raises(ValueError, match="resolution must be"):
        plane_grid((0.0, 1.0, 0.0, 1.0), 1)
