"""The side-by-side experiment's bookkeeping and the chapter's figures, on tiny runs."""

import matplotlib

matplotlib.use("Agg")

import math

import pytest

from lib.config import GANComparisonConfig
from lib.gan.comparison import (
    ablation_configs,
    comparison_configs,
    find_row,
    long_configs,
    markdown_table,
    run_comparison,
    stacks,
    summarise,
    train_many,
)
from lib.gan.plots import (
    animation_html,
    plot_critic,
    plot_final_samples,
    plot_objective_vs_w1,
    plot_snapshots,
    training_animation,
)
from lib.gan.stacked import stack_key


@pytest.fixture(autouse=True)
def _results_in_a_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))


TINY = GANComparisonConfig(
    variants=(
        ("spectral_normalisation", ()),
        ("weight_clipping", (("lipschitz", "weight_clipping"),)),
    ),
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
    assert set(runs) == {
        (v, t, s)
        for v in ("spectral_normalisation", "weight_clipping")
        for t in ("two_gaussians", "ring")
        for s in (1, 2)
    }
    rows = summarise(runs)
    assert len(rows) == 4
    row = find_row(rows, "weight_clipping", "ring")
    expected = sum(runs[("weight_clipping", "ring", s)].final["w1"] for s in (1, 2)) / 2
    assert row.mean["w1"] == pytest.approx(expected)
    assert row.n_modes == 8 and row.diverged == 0 and row.runs == 2
    table = markdown_table(rows)
    assert table.count("\n") == 1 + len(rows) and "weight clipping" in table
    with pytest.raises(ValueError, match="no row"):
        find_row(rows, "gradient_penalty", "ring")


def test_diverged_runs_are_counted_and_left_out_of_the_means():
    runs = run_comparison(TINY, progress=False)
    broken = runs[("weight_clipping", "ring", 2)]
    broken.history.diverged_at = 7
    broken.history.high_quality[-1] = 1.0  # what a collapsed generator inside one mode shows
    row = find_row(summarise(runs), "weight_clipping", "ring")
    kept = runs[("weight_clipping", "ring", 1)].final
    assert row.diverged == 1 and row.runs == 2
    assert row.mean["high_quality"] == pytest.approx(kept["high_quality"]) and row.std["w1"] == 0.0
    runs[("weight_clipping", "ring", 1)].history.diverged_at = 3
    row = find_row(summarise(runs), "weight_clipping", "ring")
    assert row.diverged == 2 and math.isnan(row.mean["high_quality"])
    assert "| 2 of 2 |" in markdown_table([row]) and "nan" not in markdown_table([row])


def test_stacks_group_runs_by_shape_and_split_them_over_the_workers():
    configs = comparison_configs(TINY) + [comparison_configs(TINY)[0].replace(batch_size=50)]
    jobs = stacks(configs, workers=2)
    assert sorted(i for job in jobs for i in job) == list(range(len(configs)))
    assert sorted(len(job) for job in jobs) == [1, 4, 4]
    for job in jobs:
        assert len({stack_key(configs[i]) for i in job}) == 1
        assert len({configs[i].lipschitz for i in job}) == 1  # the 8 runs split by method


def test_train_many_validates_workers():
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        train_many([], workers=0)


def test_figures_are_drawn():
    runs = run_comparison(TINY.replace(seeds=(1,)), progress=False)
    run = runs[("spectral_normalisation", "ring", 1)]
    for fig in (plot_snapshots(run), plot_critic(run), plot_objective_vs_w1(run)):
        assert fig.axes
    first = {
        (v, t): runs[(v, t, 1)]
        for v in ("spectral_normalisation", "weight_clipping")
        for t in TINY.targets
    }
    assert (
        len(
            plot_final_samples(
                first, ["spectral_normalisation", "weight_clipping"], list(TINY.targets)
            ).axes
        )
        == 4
    )
    html = animation_html(training_animation(run))
    assert "<script" in html
    assert "http" not in html.replace("http://www.w3.org", "") and 'class="fa ' not in html
