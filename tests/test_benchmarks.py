"""The benchmarks' logic: FLOP counting, rate fitting, results merging and table formatting.

No timing is asserted: the benchmarks report figures, they do not test them.
"""

import json
import math

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.__main__ import main
from benchmarks.gan_iterations import rate_from_two_lengths, snapshots_in_run
from benchmarks.measurements import (
    HOMEWORK_OPTIMIZERS,
    grid_flops,
    homework_grid_config,
    project_layouts,
    step_contenders,
    tied_with_best,
    torch_counterpart,
)
from benchmarks.results import (
    epoch_figures,
    format_seconds,
    format_table,
    gan_figures,
    grid_figures,
    layout_rows,
    layout_verdict,
    merge_results,
    optimizer_figures,
    parse_assignment,
    recorded,
    summary_rows,
)
from benchmarks.timing import (
    Matmul,
    epoch_batches,
    epoch_flops,
    evaluation_flops,
    fastest,
    interleaved,
    square_matmuls,
    training_flops,
    training_matmuls,
)
from lib.config import OptimizerGridConfig
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


def test_training_matmuls_order_shapes_and_layouts():
    products = training_matmuls(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), 5)
    assert products == [
        Matmul(5, 3, 4, b_transposed=True),
        Matmul(5, 4, 2, b_transposed=True),  # forward
        Matmul(2, 5, 4, a_transposed=True),
        Matmul(5, 2, 4),  # last layer: weight, input grads
        Matmul(4, 5, 3, a_transposed=True),  # first layer: weight gradient only
    ]
    assert Matmul(2, 3, 4).flops == 48


def test_flop_counts_agree_with_torchs_flop_counter():
    model = make_mlp(32)
    x, y = torch.rand(7, 784), torch.randint(0, 10, (7,))
    with FlopCounterMode(display=False) as counter:
        nn.functional.cross_entropy(model(x), y).backward()
    assert counter.get_total_flops() == training_flops(model, 7)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(x)
    assert counter.get_total_flops() == evaluation_flops(model, 7)


@pytest.mark.parametrize(
    "n, batch, sizes", [(250, 100, [100, 100, 50]), (200, 100, [100, 100]), (3, 10, [3])]
)
def test_epoch_batches_and_flops(n, batch, sizes):
    assert epoch_batches(n, batch) == sizes
    model = make_mlp(8)
    assert epoch_flops(model, n, batch) == training_flops(model, 1) * n  # linear in the batch


def test_homework_grid_and_its_flops():
    grid = OptimizerGridConfig(learning_rates=(0.5, 1e-2), seeds=(0, 1, 2), epochs=15, hidden_dim=8)
    assert homework_grid_config(grid).epochs == 15
    assert homework_grid_config(grid, 40).epochs == 15
    timed = homework_grid_config(grid, 2)
    assert timed.optimizers == HOMEWORK_OPTIMIZERS == ("SGD", "MomentumSGD", "RMSProp", "AMSGrad")
    assert timed.epochs == 2 and timed.learning_rates == grid.learning_rates
    model = make_mlp(8)
    per_epoch = training_flops(model, 1) * 300 + evaluation_flops(model, 50)
    assert grid_flops(timed, 300, 50) == 4 * 2 * 3 * timed.epochs * per_epoch


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: training_matmuls(nn.ReLU(), 10), "model must contain nn.Linear"),
        (lambda: training_matmuls(make_mlp(8), 0), "batch_size must be a positive integer"),
        (lambda: epoch_batches(0, 10), "n_examples must be a positive integer"),
        (lambda: epoch_batches(10, True), "batch_size must be a positive integer"),
        (lambda: evaluation_flops(make_mlp(8), 0), "n_examples must be a positive integer"),
        (lambda: rate_from_two_lengths(10, 1.0, 10, 2.0), "n1 and n2"),
        (lambda: rate_from_two_lengths(10, 2.0, 20, 1.0), "t1 and t2"),
        (lambda: snapshots_in_run(0, 10), "iterations and snapshot_every"),
        (lambda: interleaved({"a": lambda: None}, 0, torch.device("cpu")), "repeats must be"),
        (lambda: interleaved({}, 1, torch.device("cpu")), "contenders must name"),
        (lambda: square_matmuls(0, 1, torch.device("cpu")), "size must be a positive integer"),
        (lambda: square_matmuls(8, 0, torch.device("cpu")), "count must be a positive integer"),
        (lambda: format_seconds(-1.0), "seconds must be a finite number"),
        (lambda: format_table(("a", "b"), [("1",)]), "rows must each have 2 cells"),
        (lambda: parse_assignment("make_test", "--record"), "--record must look like NAME=VALUE"),
        (lambda: parse_assignment("a b=1", "--record"), "--record name must be"),
        (lambda: recorded("make_test=soon"), "--record seconds must be a finite number"),
        (lambda: recorded("make_test=-3"), "--record seconds must be a finite number"),
        (lambda: torch_counterpart("Nesterov", [], {"lr": 1.0}, None), "name must be one of"),
    ],
)
def test_invalid_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_rate_from_two_lengths_recovers_a_line():
    rate, fixed = rate_from_two_lengths(200, 1.5 + 200 / 400, 1000, 1.5 + 1000 / 400)
    assert rate == pytest.approx(400) and fixed == pytest.approx(1.5)


def test_layouts_split_into_epochs_and_fixed_cost_and_projected_onto_the_grid():
    # Four one-epoch runs, timed twice: processes train 2 at once (4 × 1.2 / 2 = 2.4 s of epochs
    # in 8 s), torch threads one at a time (4 × 0.98 = 3.92 s of 4.2 s); 540 run-epochs for the
    # grid. The second timings are slower.
    layouts = project_layouts(
        wall={"processes": [8.0, 9.0], "torch_threads": [4.2, 4.5]},
        epoch={"processes": [1.2, 1.3], "torch_threads": [0.98, 1.0]},
        runs=4,
        epochs=1,
        grid_run_epochs=540,
    )
    assert layouts["processes"]["fixed_seconds"] == pytest.approx(5.6)
    assert layouts["processes"]["grid_seconds"] == pytest.approx(5.6 + 324.0)
    assert layouts["processes"]["grid_seconds_max"] == pytest.approx((9.0 - 2.6) + 351.0)
    assert layouts["torch_threads"]["fixed_seconds"] == pytest.approx(0.28)
    assert layouts["torch_threads"]["grid_seconds"] == pytest.approx(0.28 + 529.2)
    # Epochs timed longer than the wall time allows (a noisy timing): no negative fixed cost.
    noisy = project_layouts({"processes": [2.0]}, {"processes": [1.2]}, 4, 1, 540)
    assert noisy["processes"]["fixed_seconds"] == 0.0
    with pytest.raises(ValueError):  # an epoch time for each timing
        project_layouts({"processes": [8.0, 9.0]}, {"processes": [1.2]}, 4, 1, 540)


def test_layouts_are_ranked_only_beyond_the_spread_of_their_timings():
    def layout(low, high):
        return {"fixed_seconds": 0.0, "grid_seconds": low, "grid_seconds_max": high}

    layouts = {"a": layout(330, 350), "b": layout(345, 360), "c": layout(351, 352)}
    assert tied_with_best(layouts) == ("a", ["b"])  # b's best timing beats a's worst; c's not
    assert tied_with_best({"a": layout(330, 330), "b": layout(331, 331)}) == ("a", [])


def test_interleaved_alternates_and_fastest():
    calls = []
    seconds = interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3, torch.device("cpu")
    )
    assert calls == ["a", "b"] * 3
    assert {k: len(v) for k, v in seconds.items()} == {"a": 3, "b": 3}
    assert fastest({"x": [3.0, 1.0, 2.0]}) == {"x": 1.0}


def test_square_matmuls_counts_its_flops():
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


def test_step_contenders_offer_fused_steps_where_they_exist():
    assert set(step_contenders("SGD")) == {"ours", "torch", "torch_fused"}
    assert set(step_contenders("RMSProp")) == {"ours", "ours_fused", "torch"}
    assert set(step_contenders("AMSGrad")) == {"ours", "ours_fused", "torch", "torch_fused"}


def test_format_seconds_units():
    assert [format_seconds(s) for s in (152e-6, 3.42e-3, 1.234, 245.0, 3725.0)] == [
        "152 µs",
        "3.4 ms",
        "1.23 s",
        "4 min 05 s",
        "1 h 02 min",
    ]


def test_format_table_aligns_columns():
    assert format_table(("Figure", "Value"), [("a", "1"), ("longer", "22")]).splitlines() == [
        "Figure  Value",
        "------  -----",
        "a       1",
        "longer  22",
    ]


def test_merge_keeps_old_sections_and_merges_wall_times():
    old = {"gan": [1], "mnist_epoch": {"old": True}, "wall_times": {"make_test": {"seconds": 1}}}
    new = {"mnist_epoch": {"new": True}, "wall_times": {"book_build": {"seconds": 2}}}
    assert merge_results(old, new) == {
        "gan": [1],
        "mnist_epoch": {"new": True},
        "measured_at": {},
        "wall_times": {"make_test": {"seconds": 1}, "book_build": {"seconds": 2}},
    }
    assert merge_results(None, {"gan": []}) == {"gan": [], "wall_times": {}, "measured_at": {}}
    assert merge_results(
        {"measured_at": {"gan": "t0", "mnist_epoch": "t0"}}, {"measured_at": {"gan": "t1"}}
    )["measured_at"] == {"gan": "t1", "mnist_epoch": "t0"}


def _results():
    return {
        "mnist_epoch": {
            "seconds": {"project": 1.0, "dataloader": 6.0, "matmuls": 0.5, "limit": 0.4},
            "train_size": 250,
            "batch_size": 100,
            "hidden_dim": 256,
            "matmul_size": 1024,
            "flops_per_epoch": 3e9,
            "speedup_vs_dataloader": 6.0,
            "ratio_to_limit": 2.5,
            "ratio_to_matmuls": 2.0,
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
        },
        "parallelism": {
            "runs": 4,
            "epochs": 1,
            "best": "processes",
            "seconds": {"processes": 8.0, "torch_threads": 4.2, "python_threads": 3.0},
            "grid_seconds": {"processes": 330.0, "torch_threads": 495.0, "python_threads": 336.6},
            "ratio_to_best": {"processes": 1.0, "torch_threads": 1.5, "python_threads": 1.02},
            "tied": ["python_threads"],
            "repeats": 3,
            "epoch_seconds": {"processes": 1.2, "torch_threads": 0.98, "python_threads": 1.24},
            "fixed_seconds": {"processes": 5.6, "torch_threads": 0.28, "python_threads": 0.52},
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
        "wall_times": {
            "make_test": {"seconds": 312.0, "source": "recorded"},
            "book_full_clean_clone": {"seconds": 540.0, "source": "recorded"},
            "book_quick": {"seconds": 90.0, "source": "recorded"},
        },
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
    estimate = rows["Homework grid estimated from one-epoch runs: torch threads"]
    assert estimate[1:3] == ("8 min 15 s", "1.50× the best")
    assert rows["WGAN, gradient penalty: 15 runs stacked"][1:3] == (
        "500 it/s per run",
        "2.50× one run",
    )
    assert rows["Wall time: make_test"][1:] == ("5 min 12 s", "recorded", "≤ 3 min 00 s", "NO")
    assert rows["Wall time: book_full_clean_clone"][3:] == ("≤ 10 min 00 s", "yes")
    assert rows["Wall time: book_quick"][3:] == ("", "")  # no target
    assert summary_rows({}) == []


def test_command_line_records_and_times_without_rerunning(tmp_path, capsys):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_results()))
    assert (
        main(
            [
                "--output",
                str(path),
                "--record",
                "book_build=95.5",
                "--time-command",
                "true_command=true",
            ]
        )
        == 0
    )
    stored = json.loads(path.read_text())
    assert stored["mnist_epoch"] == _results()["mnist_epoch"]  # nothing was rerun
    assert stored["wall_times"]["book_build"]["seconds"] == 95.5
    assert stored["wall_times"]["true_command"]["returncode"] == 0
    assert stored["wall_times"]["make_test"]["seconds"] == 312.0
    assert "Wall time: book_build" in capsys.readouterr().out
    assert main(["--output", str(path), "--record", "oops"]) == 2
    assert math.isclose(json.loads(path.read_text())["wall_times"]["book_build"]["seconds"], 95.5)


def test_page_figures_from_results():
    results = _results()
    epoch = epoch_figures(results)
    assert epoch["n_batches"] == 3  # 100 + 100 + 50
    assert epoch["batch_other_ms"] == pytest.approx((1.0 - 0.5) / 3 * 1e3)
    assert epoch["shape_gflops"] == pytest.approx(3e9 / 0.5 / 1e9)
    steps = optimizer_figures(results)
    assert (steps["step_met"], steps["n_optimizers"], steps["n_fused"]) == (1, 2, 1)
    assert steps["fused_gain_min"] == steps["fused_gain_max"] == pytest.approx(4.0)
    grid = grid_figures(results)
    assert grid["grid_overhead"] == pytest.approx(120.0 - 200.0 / 2)
    assert grid["grid_epoch"] == pytest.approx(200.0 / (36 * 2))
    assert grid["parallel_torch_threads"] == 1.5 and grid["parallel_best"] == "processes"
    assert grid["parallel_tied"] == ["python_threads"]
    rows = {row[0]: row for row in layout_rows(results["parallelism"])}
    assert rows["torch threads"] == (
        "torch threads",
        "4.20 s",
        "0.98 s",
        "280.0 ms",
        "8 min 15 s",
        "1.50",
    )
    assert layout_verdict(results["parallelism"]) == (
        "processes and python threads are within the spread of their 3 repeated timings, so this "
        "measurement does not rank them; torch threads would take 1.50 times as long"
    )
    untied = {**results["parallelism"], "tied": []}
    assert layout_verdict(untied) == (
        "the fastest for the book's grid is processes; torch threads would take 1.50 times as "
        "long; python threads would take 1.02 times as long"
    )
    gan = gan_figures(results)
    assert (gan["gan_slowest"], gan["gan_fastest"], gan["gan_stack"]) == (200.0, 400.0, 15)
    assert (gan["gan_stack_gain_min"], gan["gan_stack_gain_max"]) == (2.5, 3.0)
