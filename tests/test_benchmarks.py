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
from benchmarks.figures import epoch_figures, gan_figures, optimizer_figures
from benchmarks.flops import Matmul, epoch_batches, epoch_flops, training_flops, training_matmuls
from benchmarks.gan_iterations import rate_from_two_lengths, snapshots_in_run
from benchmarks.optimizer_step import torch_counterpart
from benchmarks.results import (format_seconds, format_table, markdown_table, merge_results,
                                summary_rows)
from benchmarks.timing import fastest, interleaved, square_matmuls
from benchmarks.wall_times import homework_grid, parse_assignment, recorded
from lib.config import OptimizerGridConfig
from lib.mnist.store import RunResult, results_dir, run_path, run_settings, save_run
from lib.mnist.training import make_mlp, make_optimizer
from lib.optim.optimizers import OPTIMIZER_CLASSES


def test_training_flops_of_the_mnist_mlp_by_hand():
    # Forward: 2·B·(784·256 + 256·256 + 256·10); weight gradients: the same again; input
    # gradients: every layer but the first, 2·B·(256·256 + 256·10).
    b = 100
    forward = 2 * b * (784 * 256 + 256 * 256 + 256 * 10)
    expected = 2 * forward + 2 * b * (256 * 256 + 256 * 10)
    assert training_flops(make_mlp(256), b) == expected == 121_139_200


def test_training_matmuls_order_shapes_and_layouts():
    products = training_matmuls(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), 5)
    assert products == [
        Matmul(5, 3, 4, b_transposed=True), Matmul(5, 4, 2, b_transposed=True),  # forward
        Matmul(2, 5, 4, a_transposed=True), Matmul(5, 2, 4),  # last layer: weight, input grads
        Matmul(4, 5, 3, a_transposed=True),  # first layer: weight gradient only
    ]
    assert Matmul(2, 3, 4).flops == 48


def test_training_matmuls_agree_with_autograd_flop_counter():
    model = make_mlp(32)
    x, y = torch.rand(7, 784), torch.randint(0, 10, (7,))
    with FlopCounterMode(display=False) as counter:
        nn.functional.cross_entropy(model(x), y).backward()
    assert counter.get_total_flops() == training_flops(model, 7)


@pytest.mark.parametrize("n, batch, sizes", [(250, 100, [100, 100, 50]), (200, 100, [100, 100]),
                                             (3, 10, [3])])
def test_epoch_batches_and_flops(n, batch, sizes):
    assert epoch_batches(n, batch) == sizes
    model = make_mlp(8)
    assert epoch_flops(model, n, batch) == training_flops(model, 1) * n  # linear in the batch


@pytest.mark.parametrize("call, message", [
    (lambda: training_matmuls(nn.ReLU(), 10), "model must contain nn.Linear"),
    (lambda: training_matmuls(make_mlp(8), 0), "batch_size must be a positive integer"),
    (lambda: epoch_batches(0, 10), "n_examples must be a positive integer"),
    (lambda: epoch_batches(10, True), "batch_size must be a positive integer"),
    (lambda: rate_from_two_lengths(10, 1.0, 10, 2.0), "n1 and n2"),
    (lambda: rate_from_two_lengths(10, 2.0, 20, 1.0), "t1 and t2"),
    (lambda: snapshots_in_run(0, 10), "iterations and snapshot_every"),
    (lambda: interleaved({"a": lambda: None}, 0, torch.device("cpu")), "repeats must be"),
    (lambda: interleaved({}, 1, torch.device("cpu")), "contenders must name"),
    (lambda: square_matmuls(0, 1, torch.device("cpu")), "size must be a positive integer"),
    (lambda: square_matmuls(8, 0, torch.device("cpu")), "count must be a positive integer"),
    (lambda: format_seconds(-1.0), "seconds must be a finite number"),
    (lambda: format_table(("a", "b"), [("1",)]), "rows must each have 2 cells"),
    (lambda: markdown_table(("a", "b"), [("1", "2", "3")]), "rows must each have 2 cells"),
    (lambda: parse_assignment("make_test", "--record"), "--record must look like NAME=VALUE"),
    (lambda: parse_assignment("a b=1", "--record"), "--record name must be"),
    (lambda: recorded("make_test=soon"), "--record seconds must be a finite number"),
    (lambda: recorded("make_test=-3"), "--record seconds must be a finite number"),
    (lambda: torch_counterpart("Nesterov", [], {"lr": 1.0}, None), "name must be one of"),
])
def test_invalid_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_rate_from_two_lengths_recovers_a_line():
    rate, fixed = rate_from_two_lengths(200, 1.5 + 200 / 400, 1000, 1.5 + 1000 / 400)
    assert rate == pytest.approx(400) and fixed == pytest.approx(1.5)


def test_snapshots_in_run_matches_the_trainer():
    # Initial snapshot, one at 1000, 2000, ..., 19000, and the final one.
    assert snapshots_in_run(20_000, 1_000) == 21
    assert snapshots_in_run(1_000, 1_000) == 2
    assert snapshots_in_run(1_001, 1_000) == 3


def test_interleaved_alternates_and_fastest():
    calls = []
    seconds = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3,
                          torch.device("cpu"))
    assert calls == ["a", "b"] * 3
    assert {k: len(v) for k, v in seconds.items()} == {"a": 3, "b": 3}
    assert fastest({"x": [3.0, 1.0, 2.0]}) == {"x": 1.0}


def test_square_matmuls_counts_its_flops():
    run, flops = square_matmuls(4, 3, torch.device("cpu"))
    run()
    assert flops == 3 * 2 * 4**3


@pytest.mark.parametrize("name", sorted(OPTIMIZER_CLASSES))
def test_torch_counterpart_computes_the_same_first_steps(name):
    # AMSGrad's variants differ only once the bias-corrected second moment decreases: with a
    # constant gradient both agree, so every pair must match on it.
    start = torch.linspace(-1, 1, 6, dtype=torch.float64)
    ours_p, torch_p = start.clone().requires_grad_(), start.clone().requires_grad_()
    ours = make_optimizer(name, [ours_p], 1e-2)
    theirs = torch_counterpart(name, [torch_p], ours.defaults, foreach=False)
    for _ in range(3):
        for p, opt in ((ours_p, ours), (torch_p, theirs)):
            p.grad = torch.full_like(start, 0.5)
            opt.step()
    torch.testing.assert_close(ours_p, torch_p)


def test_format_seconds_units():
    assert [format_seconds(s) for s in (152e-6, 3.42e-3, 1.234, 245.0, 3725.0)] == [
        "152 µs", "3.4 ms", "1.23 s", "4 min 05 s", "1 h 02 min"]


def test_format_table_aligns_columns():
    assert format_table(("Figure", "Value"), [("a", "1"), ("longer", "22")]).splitlines() == [
        "Figure  Value", "------  -----", "a       1", "longer  22"]


def test_markdown_table_escapes_bars():
    assert markdown_table(("a", "b"), [("x|y", 1)]).splitlines() == [
        "| a | b |", "| --- | --- |", "| x\\|y | 1 |"]


def test_merge_keeps_old_sections_and_merges_wall_times():
    old = {"gan": [1], "mnist_epoch": {"old": True}, "wall_times": {"make_test": {"seconds": 1}}}
    new = {"mnist_epoch": {"new": True}, "wall_times": {"book_build": {"seconds": 2}}}
    assert merge_results(old, new) == {
        "gan": [1], "mnist_epoch": {"new": True}, "measured_at": {},
        "wall_times": {"make_test": {"seconds": 1}, "book_build": {"seconds": 2}}}
    assert merge_results(None, {"gan": []}) == {"gan": [], "wall_times": {}, "measured_at": {}}
    assert merge_results({"measured_at": {"gan": "t0", "mnist_epoch": "t0"}},
                         {"measured_at": {"gan": "t1"}})["measured_at"] == {
        "gan": "t1", "mnist_epoch": "t0"}


def _results():
    return {
        "mnist_epoch": {"seconds": {"project": 1.0, "dataloader": 6.0, "matmuls": 0.5,
                                    "limit": 0.4},
                        "speedup_vs_dataloader": 6.0, "ratio_to_limit": 2.5,
                        "ratio_to_matmuls": 2.0, "matmul_gflops": 160.0,
                        "targets": {"speedup_vs_dataloader": 5.0, "ratio_to_limit": 1.3}},
        "optimizer_step": [{"optimizer": "Adam", "seconds_per_step": {"ours": 1e-3, "torch": 1e-3},
                            "ratio": 1.0, "ratio_foreach": 1.3, "target": 1.2}],
        "gan": [{"lipschitz": "gradient_penalty", "iterations_per_second": 200.0,
                 "homework_iterations": 20_000, "homework_run_seconds": 130.0}],
        "homework_grid": {"profile": "full", "runs_stored": 0, "runs_total": 54, "workers": 2,
                          "wall_seconds": 0.0},
        "wall_times": {"make_test": {"seconds": 312.0, "source": "recorded"}},
    }


def test_summary_rows_verdicts():
    rows = {row[0]: row for row in summary_rows(_results())}
    assert rows["MNIST epoch: DataLoader loop"][2:] == ("6.00× faster", "≥ 5×", "yes")
    assert rows["MNIST epoch: arithmetic limit (160 GFLOP/s)"][2:] == (
        "2.50× the limit", "≤ 1.3×", "NO")
    assert rows["Adam step vs torch.optim"][4] == "NO"  # the foreach path misses the target
    assert rows["WGAN, gradient penalty"][1] == "200 it/s"
    assert rows["Wall time: optimizer grid (full, from stored run times)"][1] == "no stored runs"
    assert rows["Wall time: make_test"][1:3] == ("5 min 12 s", "recorded")
    assert summary_rows({}) == []


def test_homework_grid_sums_stored_epoch_times(tmp_path):
    grid = OptimizerGridConfig(optimizers=("SGD", "Adam"), learning_rates=(0.1,), seeds=(0,),
                               epochs=2, trace_points_per_epoch=1, workers=2)
    directory = results_dir(grid, tmp_path)

    def stored(optimizer, epoch_time):  # a finished two-epoch run, as the grid stores it
        history = {name: [0.5, 0.5] for name in ("train_loss", "train_accuracy", "test_loss",
                                                 "test_accuracy", "loss_trace")}
        save_run(RunResult(optimizer, 0.1, 0, run_settings(grid), epoch_time=epoch_time,
                           **history), run_path(directory, optimizer, 0.1, 0))

    stored("SGD", [1.0, 2.0])
    partial = homework_grid(grid, "full", tmp_path)
    assert (partial["runs_stored"], partial["runs_total"], partial["complete"]) == (1, 2, False)
    stored("Adam", [3.0, 0.5])
    full = homework_grid(grid, "full", tmp_path)
    assert full["complete"] and full["serial_seconds"] == 6.5 and full["wall_seconds"] == 3.25


def test_command_line_records_and_times_without_rerunning(tmp_path, capsys):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_results()))
    assert main(["--output", str(path), "--record", "book_build=95.5",
                 "--time-command", "true_command=true"]) == 0
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
    results["mnist_epoch"].update({"train_size": 250, "batch_size": 100, "hidden_dim": 256,
                                   "matmul_size": 1024, "flops_per_epoch": 3e9,
                                   "matmul_gflops_at_model_shapes": 6.0})
    results["mnist_epoch"]["seconds"].update({"gather_index": 0.3, "gather_index_select": 0.1})
    results["optimizer_step"] = [
        {"optimizer": "SGD", "seconds_per_step": {"ours": 1e-3}, "ratio": 0.9,
         "ratio_foreach": 1.0, "target": 1.2, "tensors": 6},
        {"optimizer": "Adam", "seconds_per_step": {"ours": 3e-3}, "ratio": 1.1,
         "ratio_foreach": 1.3, "target": 1.2, "tensors": 6}]
    epoch = epoch_figures(results)
    assert epoch["n_batches"] == 3  # 100 + 100 + 50
    assert epoch["batch_other_ms"] == pytest.approx((1.0 - 0.5) / 3 * 1e3)
    assert epoch["budget_ms"] == pytest.approx((1.3 * 0.4 - 0.5) / 3 * 1e3)
    assert epoch["adam_epoch"] == pytest.approx(1.0 + 3 * 2e-3)
    assert epoch["adam_speedup"] == pytest.approx((6.0 - 1.0 + 1.006) / 1.006)
    assert epoch["sgd_share"] == pytest.approx(100 * 3 * 1e-3 / 1.0)
    assert epoch["speedup_epoch"] == pytest.approx(6.0 / 5.0)
    assert epoch["speedup_batch_ms"] == pytest.approx(6.0 / 5.0 / 3 * 1e3)
    assert epoch["batch_matmuls_ms"] == pytest.approx(0.5 / 3 * 1e3)
    steps = optimizer_figures(results)
    assert (steps["step_met"], steps["step_met_foreach"], steps["n_optimizers"]) == (2, 1, 2)
    assert steps["step_worst_foreach"] == 1.3 and steps["step_ratio_mean"] == pytest.approx(1.0)
    results["gan"] = [
        {"homework_iterations": 20_000, "homework_snapshots": 21, "eval_samples": 2_000,
         "iterations_per_second": rate, "snapshot_seconds": 1.0, "homework_run_seconds": run}
        for rate, run in ((200.0, 121.0), (400.0, 71.0))]
    gan = gan_figures(results)
    assert (gan["gan_slowest"], gan["gan_fastest"]) == (200.0, 400.0)
    assert gan["gan_snapshot_share_min"] == pytest.approx(100 * 21 / 121)
    assert gan["gan_snapshot_share_max"] == pytest.approx(100 * 21 / 71)
