"""The benchmarks' logic: FLOP counting, the summary table, the page's figures, the command line.

No timing is asserted: the benchmarks report figures, they do not test them.
"""

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

import benchmarks.__main__ as command_line
from benchmarks.measurements import (
    CHAPTERS,
    HOMEWORK_OPTIMIZERS,
    grid_flops,
    homework_grid_config,
    torch_counterpart,
)
from benchmarks.results import (
    epoch_figures,
    grid_breakdown_rows,
    grid_figures,
    optimizer_figures,
    summary_rows,
)
from benchmarks.timing import (
    epoch_flops,
    evaluation_flops,
    fastest,
    interleaved,
    square_matmuls,
    step_products,
    training_flops,
)
from lib.config import OptimizerGridConfig, repo_root
from lib.mnist.training import make_mlp, make_optimizer
from lib.optim.optimizers import OPTIMIZER_CLASSES


def test_training_flops_of_the_mnist_mlp_by_hand():
    # Forward: 2·B·(784·256 + 256·256 + 256·10); weight gradients: the same again; input
    # gradients: every layer but the first, 2·B·(256·256 + 256·10).
    b = 100
    forward = 2 * b * (784 * 256 + 256 * 256 + 256 * 10)
    expected = 2 * forward + 2 * b * (256 * 256 + 256 * 10)
    assert training_flops(make_mlp(256), b) == expected == 121_139_200
    assert evaluation_flops(make_mlp(256), b) == forward
    assert epoch_flops(make_mlp(256), 250, b) == 250 * expected // b  # linear in the batch


def test_homework_grid_and_its_flops():
    grid = OptimizerGridConfig(learning_rates=(0.5, 1e-2), seeds=(0, 1, 2), epochs=15, hidden_dim=8)
    assert homework_grid_config(grid, 40).epochs == 15
    timed = homework_grid_config(grid, 2)
    assert timed.optimizers == HOMEWORK_OPTIMIZERS == ("SGD", "MomentumSGD", "RMSProp", "AMSGrad")
    assert timed.epochs == 2 and timed.learning_rates == grid.learning_rates
    model = make_mlp(8)
    per_epoch = training_flops(model, 1) * 300 + evaluation_flops(model, 50)
    assert grid_flops(timed, 300, 50) == 4 * 2 * 3 * timed.epochs * per_epoch


def test_interleaved_alternates_and_fastest():
    calls = []
    seconds = interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3, torch.device("cpu")
    )
    assert calls == ["a", "b"] * 3
    assert {k: len(v) for k, v in seconds.items()} == {"a": 3, "b": 3}
    assert fastest({"x": [3.0, 1.0, 2.0]}) == {"x": 1.0}
    run, flops = square_matmuls(4, 3, torch.device("cpu"))
    run()
    assert flops == 3 * 2 * 4**3


@pytest.mark.parametrize("name", sorted(OPTIMIZER_CLASSES))
@pytest.mark.parametrize("fused", [None, True])
def test_torch_counterpart_computes_the_same_first_steps(name, fused):
    # AMSGrad's variants differ only once the bias-corrected second moment decreases: with a
    # constant gradient both agree, so every pair must match on it.
    start = torch.linspace(-1, 1, 6, dtype=torch.float64)
    ours_p, torch_p = start.clone().requires_grad_(), start.clone().requires_grad_()
    ours = make_optimizer(name, [ours_p], 1e-2)
    theirs = torch_counterpart(name, [torch_p], ours.defaults, fused)
    for _ in range(3):
        for p, opt in ((ours_p, ours), (torch_p, theirs)):
            p.grad = torch.full_like(start, 0.5)
            opt.step()
    torch.testing.assert_close(ours_p, torch_p)


def _results():
    return {
        "mnist_epoch": {
            "seconds": {"project": 1.0, "dataloader": 6.0, "limit": 0.4},
            "train_size": 250,
            "batch_size": 100,
            "hidden_dim": 256,
            "matmul_size": 1024,
            "flops_per_epoch": 3e9,
            "speedup_vs_dataloader": 6.0,
            "ratio_to_limit": 2.5,
            "matmul_gflops": 160.0,
            "target_speedup_vs_dataloader": 5.0,
        },
        "optimizer_step": [
            {
                "optimizer": "SGD",
                "parameters": 10,
                "tensors": 6,
                "target": 1.3,
                "ratio": 0.9,
                "seconds_per_step": {"ours": 0.9e-3, "torch": 1.2e-3, "torch_fused": 1e-3},
            },
            {
                "optimizer": "Adam",
                "parameters": 10,
                "tensors": 6,
                "target": 1.3,
                "ratio": 1.5,
                "seconds_per_step": {
                    "ours": 6e-3,
                    "ours_fused": 1.5e-3,
                    "torch": 2e-3,
                    "torch_fused": 1e-3,
                },
            },
        ],
        "homework_grid": {
            "runs": 36,
            "epochs": 2,
            "full_epochs": 15,
            "workers": 2,
            "cores": 2,
            "wall_seconds": 120.0,
            "limit_seconds": 60.0,
            "ratio_to_limit": 2.0,
            "training_seconds": 200.0,
            "matmul_gflops": 150.0,
            "target_ratio_to_limit": 1.3,
            "step_parts": {"steps_per_run": 1200, "products": 0.7e-3},
            "breakdown": {  # sorted, as the stored file holds it
                "matrix products": 70.0,
                "optimizer steps": 20.0,
                "outside the epochs": 0.0,
                "rest of the step": 40.0,
                "side by side": -10.0,
            },
        },
        "gan": [
            {
                "lipschitz": "gradient_penalty",
                "iterations_per_second": 200.0,
                "homework_iterations": 20_000,
                "homework_run_seconds": 130.0,
                "stacked_per_run": {"3": 300.0, "15": 500.0},
            },
            {
                "lipschitz": "weight_clipping",
                "iterations_per_second": 400.0,
                "homework_iterations": 20_000,
                "homework_run_seconds": 60.0,
                "stacked_per_run": {"3": 500.0, "15": 1200.0},
            },
        ],
        "chapters": {"optimizers": 610.0, "gan": 340.0},
    }


def test_summary_rows_verdicts():
    rows = {row[0]: row for row in summary_rows(_results())}
    assert rows["MNIST epoch: project loop vs DataLoader + ToTensor"][2:] == (
        "6.00× faster",
        "≥ 5×",
        "yes",
    )
    assert rows["SGD step: loop vs torch fused"][1:] == (
        "900 µs vs 1.0 ms",
        "0.90× (loop 0.90×)",
        "≤ 1.3×",
        "yes",
    )
    assert rows["Adam step: fused vs torch fused"][2:] == ("1.50× (loop 6.00×)", "≤ 1.3×", "NO")
    grid = rows["Homework grid: 36 runs × 2 epochs (of 15), 2 at once, vs its limit"]
    assert grid[2:] == ("2.00× the limit", "≤ 1.3×", "NO")
    assert rows["WGAN, gradient penalty: 15 runs stacked"][1:3] == (
        "500 it/s per run",
        "2.50× one run",
    )
    assert rows["Chapter optimizers, executed from an empty cache"][1] == "10 min 10 s"
    assert summary_rows({}) == []


def test_command_line_measures_writes_and_prints(tmp_path, capsys, monkeypatch):
    asked = []
    monkeypatch.setattr(
        command_line,
        "run_benchmarks",
        lambda _, sections: asked.append(sections) or _results(),
    )
    path = tmp_path / "results.json"
    command_line.main(["--output", str(path), "--only", "chapters"])
    assert asked == [["chapters"]] and json.loads(path.read_text()) == _results()
    assert "Chapter gan, executed from an empty cache" in capsys.readouterr().out


def test_page_figures_from_results():
    results = _results()
    epoch = epoch_figures(results)
    assert epoch["n_batches"] == 3  # 100 + 100 + 50
    assert epoch["batch_beyond_limit_ms"] == pytest.approx((1.0 - 0.4) / 3 * 1e3)
    steps = optimizer_figures(results)
    assert (steps["step_met"], steps["n_optimizers"], steps["n_fused"]) == (1, 2, 1)
    assert steps["fused_gain_min"] == steps["fused_gain_max"] == pytest.approx(4.0)
    grid = grid_figures(results)
    assert grid["grid_floor_ratio"] == pytest.approx((70.0 + 20.0) / 60.0)
    assert grid["grid_products_ms"] == pytest.approx(0.7)
    assert grid_breakdown_rows(results) == [
        ("matrix products", "1 min 10 s", "58%", "1.17×"),
        ("optimizer steps", "20.00 s", "17%", "1.50×"),
        ("rest of the step", "40.00 s", "33%", "2.17×"),
        ("side by side", "−10.00 s", "-8%", "2.00×"),
        ("outside the epochs", "0 µs", "0%", "2.00×"),
    ]


def test_step_products_are_a_training_steps_products():
    # torch's FLOP counter, run over the products alone, against the count of a real step.
    model = make_mlp(16)
    run = step_products(model, 5, 3, torch.device("cpu"))
    with FlopCounterMode(display=False) as counter:
        run()
    assert counter.get_total_flops() == 3 * training_flops(model, 5)


def test_chapters_timed_are_the_books_computing_notebooks():
    notebooks = {path.stem for path in (repo_root() / "book").glob("*.ipynb")}
    assert set(CHAPTERS) == notebooks - {"performance"}
