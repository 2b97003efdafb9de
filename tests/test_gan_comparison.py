"""The side-by-side experiment's bookkeeping and the chapter's figures, on tiny runs."""

import matplotlib

matplotlib.use("Agg")

import pytest

from lib.config import GANComparisonConfig
from lib.gan.comparison import (
    ablation_configs,
    comparison_configs,
    find_row,
    long_configs,
    markdown_table,
    run_comparison,
    summarise,
    train_many,
)
from lib.gan.plots import animation_html, plot_critic, plot_final_samples, plot_objective_vs_w1, plot_snapshots, training_animation

TINY = GANComparisonConfig(
    variants=(("spectral_normalisation", ()), ("weight_clipping", (("lipschitz", "weight_clipping"),))),
    targets=("two_gaussians", "ring"),
    seeds=(1, 2),
    iterations=20,
    eval_samples=100,
    workers=1,
)


def test_every_variant_target_and_seed_gets_a_config():
    configs = comparison_configs(TINY)
    assert len(configs) == 2 * 2 * 2
    assert {c.lipschitz for c in configs} == {"spectral_normalisation", "weight_clipping"}
    assert {c.seed for c in configs} == {1, 2} and all(c.iterations == 20 for c in configs)
    full = GANComparisonConfig()
    assert len(comparison_configs(full)) == len(full.variants) * 3 * 3
    assert len(ablation_configs(full)) == len(full.ablation_variants)
    assert [c.target for c in long_configs(full)] == ["ring", "grid"]


def test_summary_averages_over_seeds_and_renders_a_table():
    runs = run_comparison(TINY, progress=False)
    assert set(runs) == {(v, t, s) for v in ("spectral_normalisation", "weight_clipping")
                         for t in ("two_gaussians", "ring") for s in (1, 2)}
    rows = summarise(runs)
    assert len(rows) == 4
    row = find_row(rows, "weight_clipping", "ring")
    expected = sum(runs[("weight_clipping", "ring", s)].final["w1"] for s in (1, 2)) / 2
    assert row.mean["w1"] == pytest.approx(expected)
    assert row.n_modes == 8 and row.diverged == 0
    table = markdown_table(rows)
    assert table.count("\n") == 1 + len(rows) and "weight clipping" in table
    with pytest.raises(ValueError, match="no row"):
        find_row(rows, "gradient_penalty", "ring")


def test_train_many_validates_workers():
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        train_many([], workers=0)


def test_figures_are_drawn():
    runs = run_comparison(TINY.replace(seeds=(1,)), progress=False)
    run = runs[("spectral_normalisation", "ring", 1)]
    for fig in (plot_snapshots(run), plot_critic(run), plot_objective_vs_w1(run)):
        assert fig.axes
    first = {(v, t): runs[(v, t, 1)] for v in ("spectral_normalisation", "weight_clipping") for t in TINY.targets}
    assert len(plot_final_samples(first, ["spectral_normalisation", "weight_clipping"], list(TINY.targets)).axes) == 4
    html = animation_html(training_animation(run))
    assert "<script" in html
    assert "http" not in html.replace("http://www.w3.org", "") and 'class="fa ' not in html
