"""lib.mnist.report: the ranking rule, the accuracy table, and the pseudocode replay."""

import math

import numpy as np
import pytest
import torch

from lib.mnist.report import (
    accuracy_table,
    describe_ranking,
    gap,
    rank_against,
    smallest_gap,
    tied_with_best,
)
from lib.optim.optimizers import AMSGrad, MomentumSGD, RMSProp
from lib.optim.replay import homework_pseudocode, replay
from lib.stats import SeedStats

HYPER = {
    "SGD": {},
    "MomentumSGD": {"rho": 0.9},
    "RMSProp": {"tau": 0.9, "delta": 1e-8},
    "AMSGrad": {"beta1": 0.9, "beta2": 0.999, "delta": 1e-8},
}


@pytest.fixture
def summaries():
    return {
        ("A", 0.1): SeedStats((0.90, 0.92, 0.94)),  # mean .92, std .02
        ("B", 0.1): SeedStats((0.89, 0.90, 0.91)),  # mean .90, std .01: within A's spread
        ("C", 0.1): SeedStats((0.50, 0.51, 0.52)),  # far below
        ("D", 0.1): SeedStats((0.99,)),  # one seed: its spread is unknown
        ("E", 0.1): SeedStats((), diverged=3),
    }


def test_gap_ranks_only_beyond_the_spread(summaries):
    close, far = gap(summaries, "A", "B", 0.1), gap(summaries, "A", "C", 0.1)
    assert math.isclose(close.points, 2.0) and math.isclose(close.spread, 3.0)
    assert not close.exceeds_spread and far.exceeds_spread
    assert close.describe() == "2.00 points, spread 3.00"
    # one seed (D) or none (E): no ranking, whatever the means
    assert not gap(summaries, "D", "C", 0.1).exceeds_spread
    assert not gap(summaries, "A", "E", 0.1).exceeds_spread
    with pytest.raises(ValueError, match="no runs of 'Z' at lr 0.1"):
        gap(summaries, "Z", "A", 0.1)


def test_smallest_gap_picks_the_closest_pair(summaries):
    closest = smallest_gap(summaries, ("A", "B"), ("C",), 0.1)
    assert closest.higher is summaries[("B", 0.1)] and math.isclose(closest.points, 39.0)


def test_smallest_gap_fails_when_any_pair_fails_even_a_wider_one():
    s = {
        ("A", 0.1): SeedStats((0.90, 0.91, 0.92)),  # mean .91, std .01
        ("B", 0.1): SeedStats((0.50, 0.70, 0.90)),  # mean .70, std .20: gap 21 < spread 21.0+
        ("C", 0.1): SeedStats((0.80, 0.81, 0.82)),  # mean .81, std .01: gap 10 > spread 2
    }
    # C is the closer pair by size, but B's wider spread is what the rule cannot rank
    least = smallest_gap(s, ("A",), ("B", "C"), 0.1)
    assert least.lower is s[("B", 0.1)] and not least.exceeds_spread
    assert smallest_gap(s, ("A",), ("C",), 0.1).exceeds_spread


def test_tied_with_best_and_the_table_bold_the_same_cells(summaries):
    # D has the best mean but one seed, so nothing can be ranked below it except by a gap
    # over the others' spread alone: A, B and C are all compared with D's single run.
    assert tied_with_best(summaries, 0.1) == ["A", "B", "C", "D"]
    three_seeds = {key: s for key, s in summaries.items() if key[0] != "D"}
    assert tied_with_best(three_seeds, 0.1) == ["A", "B"]
    table = accuracy_table(three_seeds)
    assert "| A | **92.00 ± 2.00** |" in table and "| B | **90.00 ± 1.00** |" in table
    assert "| C | 51.00 ± 1.00 |" in table and "| E | diverged |" in table


def test_rank_against_sorts_by_the_gap_and_its_spread(summaries):
    groups = rank_against(summaries, ["A", "C", "D", "E"], "B", 0.1)
    # A is within B's spread; C is far below; D has one seed and E none: not ranked
    assert groups == {"above": [], "unranked": ["A", "D", "E"], "below": ["C"]}
    assert describe_ranking(groups, "B") == "C ranks below B; A, D and E are not ranked against it"
    groups = rank_against(summaries, ["A", "B"], "C", 0.1)
    assert describe_ranking(groups, "C") == "A and B rank above C"


@pytest.mark.parametrize(
    "name, cls", [("MomentumSGD", MomentumSGD), ("RMSProp", RMSProp), ("AMSGrad", AMSGrad)]
)
def test_library_optimizers_replay_the_pseudocode(name, cls):
    rng = np.random.default_rng(1)
    theta0 = rng.normal(size=(3, 2))
    gradients = [rng.normal(size=(3, 2)) * 10.0 ** (1 - t / 10) for t in range(30)]
    ours = replay(lambda params: cls(params, lr=0.01, **HYPER[name]), theta0, gradients)
    reference = homework_pseudocode(name, theta0, gradients, 0.01, **HYPER[name])
    assert ours.shape == (30, 3, 2)
    np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-14)


def test_pseudocode_amsgrad_is_not_torchs_after_a_spike():
    gradients = [np.array([10.0])] + [np.array([1.0])] * 50
    hw = homework_pseudocode("AMSGrad", np.zeros(1), gradients, 0.01, **HYPER["AMSGrad"])
    torch_path = replay(
        lambda p: torch.optim.Adam(p, lr=0.01, amsgrad=True, eps=1e-8), np.zeros(1), gradients
    )
    # the same first step (the maxima agree), then the homework's remembers the spike
    np.testing.assert_allclose(hw[0], torch_path[0], rtol=1e-12)
    assert abs(hw[-1, 0]) < abs(torch_path[-1, 0])
