"""Targets and metrics: mixtures, mode coverage, exact W1, the critic's Lipschitz constant."""

import math

import numpy as np
import pytest
import torch

from lib.gan.metrics import (
    clearly_greater,
    lipschitz_estimate,
    mode_metrics,
    plane_grid,
    sample_target,
    seed_summary,
    w1_noise_floor,
    wasserstein1,
)
from lib.gan.networks import DualVariable
from lib.gan.targets import GaussianMixture, make_noise, make_target


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


def test_sample_target_follows_the_mixture_and_its_own_generator():
    target = make_target("ring")
    a = sample_target(target, 4000, torch.Generator().manual_seed(3))
    b = sample_target(target, 4000, torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)  # the generator alone decides the draws
    metrics = mode_metrics(a, target.means, target.std)
    assert metrics.modes_covered == 8
    # Equal weights: each mode's count is Binomial(4000, 1/8), std ≈ 21.
    assert (
        np.abs(
            np.bincount(torch.cdist(a, target.means).argmin(dim=1).numpy(), minlength=8) - 500
        ).max()
        < 100
    )
    assert metrics.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.01)


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
    assert floor.n == n and floor.repeats == 60
    assert floor.mean == pytest.approx(expected, rel=0.1)
    assert 0 < floor.std < floor.mean


def test_w1_noise_floor_shrinks_with_the_sample_size_and_is_reproducible():
    ring = make_target("ring")
    small, large = w1_noise_floor(ring, 100, repeats=8), w1_noise_floor(ring, 800, repeats=8)
    assert small.mean - large.mean > small.std + large.std
    assert w1_noise_floor(ring, 100, repeats=3, seed=4) == w1_noise_floor(
        ring, 100, repeats=3, seed=4
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n must be a positive integer"),
        ({"n": 10, "repeats": 0}, "repeats must be a positive integer"),
        ({"n": 10, "seed": -1}, "seed must be"),
    ],
)
def test_w1_noise_floor_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        w1_noise_floor(make_target("ring"), **kwargs)


def test_seed_summary_leaves_diverged_runs_out_and_counts_them():
    finals = [
        {"w1": 1.0, "diverged": False},
        {"w1": 3.0, "diverged": False},
        {"w1": float("nan"), "diverged": True},
    ]
    summary = seed_summary(finals, ["w1"])
    assert summary.runs == 2 and summary.diverged == 1
    assert summary.mean["w1"] == pytest.approx(np.nanmean([f["w1"] for f in finals]))
    assert summary.std["w1"] == pytest.approx(np.nanstd([f["w1"] for f in finals]))
    none_left = seed_summary(finals[2:], ["w1"])
    assert none_left.runs == 0 and math.isnan(none_left.mean["w1"])
    with pytest.raises(ValueError, match="finals must hold"):
        seed_summary([], ["w1"])
    with pytest.raises(ValueError, match="lacks the metrics"):
        seed_summary(finals, ["lipschitz"])
    with pytest.raises(ValueError, match="keys must be"):
        seed_summary(finals, "w1")


def test_clearly_greater_needs_a_gap_beyond_both_spreads():
    high = seed_summary([{"hq": 0.50}, {"hq": 0.60}], ["hq"])  # 0.55 ± 0.05
    close = seed_summary([{"hq": 0.42}, {"hq": 0.52}], ["hq"])  # 0.47 ± 0.05: gap 0.08 < 0.10
    low = seed_summary([{"hq": 0.30}, {"hq": 0.32}], ["hq"])  # 0.31 ± 0.01
    assert clearly_greater(high, low, "hq") and not clearly_greater(low, high, "hq")
    assert not clearly_greater(high, close, "hq")
    single = seed_summary([{"hq": 0.9}], ["hq"])  # one run: no spread, no ranking
    assert not clearly_greater(single, low, "hq") and not clearly_greater(high, single, "hq")
    with pytest.raises(ValueError, match="no metric 'w1'"):
        clearly_greater(high, low, "w1")
