"""What the GAN chapter adds on top of the training code: the capacity-study settings and the
figure of a metric along training over seeds."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from lib.config import GANComparisonConfig
from lib.gan.plots import plot_seed_curves


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"capacity_variants": (("wide", (("hidden_dim", 0),)),)},
            r"capacity_variants\[0\]: hidden_dim must",
        ),
        ({"capacity_variants": (("a", ()), ("a", ()))}, "capacity_variants must not repeat"),
        ({"capacity_targets": ("ring", "ring")}, "capacity_targets must not repeat"),
        ({"capacity_targets": ("spiral",)}, "capacity_targets"),
        ({"floor_repeats": 0}, "floor_repeats must be a positive integer"),
        ({"timing_iterations": 0}, "timing_iterations must be a positive integer"),
        ({"capacity_iterations": -5}, "capacity_iterations must be a positive integer"),
    ],
)
def test_capacity_and_floor_settings_are_validated(changes, message):
    with pytest.raises(ValueError, match=message):
        GANComparisonConfig(**changes)


def test_capacity_variants_widen_the_long_variant():
    comparison = GANComparisonConfig()
    long = dict(comparison.long_variant)
    for _, changes in comparison.capacity_variants:
        changes = dict(changes)
        assert changes["lipschitz"] == long["lipschitz"]
        assert max(changes.get("hidden_dim", 100), changes.get("critic_hidden_dim") or 0) > 100


def test_seed_curves_draw_mean_and_band_per_setting():
    k = [0, 100, 200]
    values = np.array([[0.1, 0.3, 0.5], [0.3, 0.5, 0.7]])  # two seeds
    fig = plot_seed_curves(
        {"a": (k, values), "b": (k, values / 2)}, "share (%)", goal=0.8, scale=100
    )
    ax = fig.axes[0]
    means = [line for line in ax.get_lines() if line.get_label() in ("a", "b")]
    np.testing.assert_allclose(means[0].get_ydata(), 100 * values.mean(axis=0))
    np.testing.assert_allclose(means[1].get_ydata(), 50 * values.mean(axis=0))
    goal = [line for line in ax.get_lines() if line.get_label() == "goal"]
    np.testing.assert_allclose(goal[0].get_ydata(), [80, 80])
    assert len(ax.collections) == 2  # one ± std band per setting
    plt.close(fig)
