"""Settings checked where they enter, runs stored and reloaded, studies summarised over seeds."""

import pytest
import torch

import lib.gan.study as study
from lib.gan.config import GANComparisonConfig, GANConfig, GANQualityConfig
from lib.gan.report import (
    PERFECT_SHARE,
    end_slope,
    goal_met,
    summarise,
    summarise_study,
    summary_table,
)
from lib.gan.study import entry, run_quality, run_study, stacks, train_runs

BASE = GANConfig(iterations=20, snapshot_every=10, eval_samples=50, batch_size=20)


@pytest.mark.parametrize(
    ("config", "changes", "field"),
    [
        (GANConfig, {"seed": 2**32}, "seed"),
        (GANConfig, {"clip": float("inf")}, "clip"),
        (GANConfig, {"lr": float("nan")}, "lr"),
        (GANConfig, {"betas": (0.5, 1.0)}, "betas"),
        (GANConfig, {"depth": 0}, "depth"),
        (GANConfig, {"iterations": True}, "iterations"),
        (GANConfig, {"target": "spiral"}, "target"),
        (GANConfig, {"train_samples": 0}, "train_samples"),
        (GANComparisonConfig, {"seeds": (1, 1)}, "seeds"),
        (GANComparisonConfig, {"variants": (("a", ()), ("a", ()))}, "variants"),
        (GANQualityConfig, {"quality_variant": (("depth", -1),)}, "quality_variant: depth"),
        (GANQualityConfig, {"deep_lr": 0.0}, "deep_lr"),
        (GANQualityConfig, {"quality_targets": ("ring", "ring")}, "quality_targets"),
    ],
)
def test_a_bad_field_raises_value_error_naming_it(config, changes, field):
    with pytest.raises(ValueError, match=f"^{field}"):
        config(**changes)


def test_runs_equal_but_for_seed_and_target_share_a_stack():
    configs = [BASE.replace(seed=s, target=t) for s in (1, 2) for t in ("ring", "grid")]
    configs.append(BASE.replace(lipschitz="gradient_penalty"))
    assert stacks(configs, workers=1) == [[0, 1, 2, 3], [4]]
    assert sorted(map(len, stacks(configs, workers=2))) == [1, 2, 2]


def test_stored_runs_reload_and_a_damaged_file_is_trained_again(tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path))
    configs = [BASE.replace(seed=s) for s in (1, 2)]
    first = train_runs(configs)
    assert all(entry(c).path.exists() for c in configs)
    trained = []
    monkeypatch.setattr(study, "train_stack", lambda c: trained.append(c) or first[:0])
    again = train_runs(configs)  # both loaded: nothing trained
    assert trained == []
    for a, b in zip(first, again):
        assert a.history.w1 == b.history.w1 and a.history.snapshot_iterations == [0, 10, 20]
        torch.testing.assert_close(a.generator.state_dict(), b.generator.state_dict())
    entry(configs[1]).path.write_bytes(b"not a stored run")
    monkeypatch.undo()
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path))
    repaired = train_runs(configs)
    # recomputed alone rather than stacked: the same run, up to float32 rounding
    assert repaired[1].history.w1 == pytest.approx(first[1].history.w1, rel=1e-4)


def test_a_study_is_summarised_over_its_seeds(tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path))
    variants = (("SN", ()), ("clip", (("lipschitz", "weight_clipping"),)))
    runs = run_study(variants, ("ring",), (1, 2), iterations=20, snapshot_every=20, batch_size=20)
    summary = summarise_study(runs)
    sn = summary[("SN", "ring")]["w1"]
    values = [runs[("SN", "ring", s)].final["w1"] for s in (1, 2)]
    assert sn.n == 2 and sn.mean == pytest.approx(sum(values) / 2)
    assert sn.std == pytest.approx(abs(values[0] - values[1]) / 2**0.5)  # sample std, ddof=1
    table = summary_table(summary, {"ring": 8}, {"ring": 0.1}, base=summary[("SN", "ring")])
    assert table.count("\n") == 3 and "| ring | clip |" in table and "0 of 2" in table


def test_the_quality_runs_train_as_one_stack_and_report_their_goal(tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path))
    q = GANQualityConfig(
        seeds=(1, 2), eval_samples=50, workers=1, deep_iterations=10, snapshots=2, deep_width=8
    )
    runs = run_quality(q)
    assert set(runs) == {(t, s) for t in ("pacgan_ring", "pacgan_grid") for s in (1, 2)}
    deep = runs[("pacgan_ring", 1)]
    assert deep.config.depth == 3 and deep.config.lr_decay
    assert deep.history.snapshot_iterations == [0, 5, 10]
    configs = [run.config for run in runs.values()]
    assert sorted(map(len, stacks(configs, workers=1))) == [4]  # one stack
    ring = [runs[("pacgan_ring", s)] for s in (1, 2)]
    slopes = end_slope(ring)
    h = ring[0].history
    expected = 1_000 * (h.high_quality[-1] - h.high_quality[-2]) / 5
    assert slopes.values[0] == pytest.approx(expected)
    summary = summarise(ring)
    assert not goal_met(summary, 8, PERFECT_SHARE + 0.01)  # above a perfect generator: never met


def test_a_stored_run_missing_a_history_field_is_logged_and_trained_again(
    tmp_path, monkeypatch, caplog
):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path))
    config = BASE.replace(target="ring")
    (first,) = train_runs([config])
    path = entry(config).path
    record = torch.load(path, weights_only=True)
    del record["value"]["history"]["high_quality"]  # the right key, a value of an older shape
    torch.save(record, path)
    with caplog.at_level("WARNING", logger="lib.cache"):
        (again,) = train_runs([config])
    assert "history lacks ['high_quality']" in caplog.text and str(path) in caplog.text
    assert again.history.high_quality == first.history.high_quality != []


def test_an_unwritable_results_folder_stops_the_study_before_it_trains(tmp_path, monkeypatch):
    (tmp_path / "gan").write_text("a file where the folder should be")
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path))
    monkeypatch.setattr(study, "train_stack", lambda configs: pytest.fail("trained"))
    with pytest.raises(OSError, match="cannot be written"):
        train_runs([BASE])
