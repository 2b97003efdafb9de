"""The benchmarks' results: the JSON file the performance page reads, its summary table, the
figures the page quotes, and the page's plot.

The file holds one section per measurement (:data:`benchmarks.measurements.SECTIONS`) and
``measured_at``, when each was measured; ``python -m benchmarks`` writes it whole.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from lib.config import repo_root

HEADERS = ("Figure", "Measured", "Ratio", "Target", "Met")


def default_path() -> Path:
    """``benchmarks/results.json`` in the repository: the file the book's page reads."""
    return repo_root() / "benchmarks" / "results.json"


def load_results(path: str | Path | None = None) -> dict | None:
    """The stored results, or ``None`` if the file is missing."""
    path = Path(path) if path is not None else default_path()
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def save_results(results: dict, path: str | Path | None = None) -> Path:
    """Write ``results`` as indented JSON; return the path written."""
    path = Path(path) if path is not None else default_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    return path


def format_seconds(seconds: float) -> str:
    """A duration in the unit that reads best: ``"152 µs"``, ``"3.4 ms"``, ``"1.23 s"``,
    ``"4 min 05 s"``; a negative one with a minus sign."""
    if seconds < 0:
        return "−" + format_seconds(-seconds)
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _epoch_rows(epoch: dict) -> list[tuple]:
    s, target = epoch["seconds"], epoch["target_speedup_vs_dataloader"]
    return [
        (
            "MNIST epoch: project loop vs DataLoader + ToTensor",
            f"{format_seconds(s['project'])} vs {format_seconds(s['dataloader'])}",
            f"{epoch['speedup_vs_dataloader']:.2f}× faster",
            f"≥ {target:g}×",
            "yes" if epoch["speedup_vs_dataloader"] >= target else "NO",
        ),
        (
            f"MNIST epoch: vs its arithmetic limit ({epoch['matmul_gflops']:.0f} GFLOP/s)",
            f"{format_seconds(s['project'])} vs {format_seconds(s['limit'])}",
            f"{epoch['ratio_to_limit']:.2f}× the limit",
            "",
            "",
        ),
    ]


def _step_row(entry: dict) -> tuple:
    step = entry["seconds_per_step"]
    ours = "ours_fused" if "ours_fused" in step else "ours"
    theirs = "torch_fused" if "torch_fused" in step else "torch"
    label = {"ours": "loop", "ours_fused": "fused", "torch": "torch", "torch_fused": "torch fused"}
    return (
        f"{entry['optimizer']} step: {label[ours]} vs {label[theirs]}",
        f"{format_seconds(step[ours])} vs {format_seconds(step[theirs])}",
        f"{entry['ratio']:.2f}× (loop {step['ours'] / step[theirs]:.2f}×)",
        f"≤ {entry['target']:g}×",
        "yes" if entry["ratio"] <= entry["target"] else "NO",
    )


def _grid_row(grid: dict) -> tuple:
    target = grid["target_ratio_to_limit"]
    return (
        (
            f"Homework grid: {grid['runs']} runs × {grid['epochs']} epochs "
            f"(of {grid['full_epochs']}), {grid['workers']} at once, vs its limit"
        ),
        f"{format_seconds(grid['wall_seconds'])} vs {format_seconds(grid['limit_seconds'])}",
        f"{grid['ratio_to_limit']:.2f}× the limit",
        f"≤ {target:g}×",
        "yes" if grid["ratio_to_limit"] <= target else "NO",
    )


def _gan_rows(entry: dict) -> list[tuple]:
    name, alone = entry["lipschitz"].replace("_", " "), entry["iterations_per_second"]
    rows = [(f"WGAN, {name}: one run", f"{alone:.0f} it/s", "", "", "")]
    for size, rate in entry.get("stacked_per_run", {}).items():
        rows.append((f"WGAN, {name}: {size} runs stacked", f"{rate:.0f} it/s per run",
                     f"{rate / alone:.2f}× one run", "", ""))  # fmt: skip
    return rows


def summary_rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    """One row per figure of ``results``: (figure, measured, ratio, target, met)."""
    rows = []
    if results.get("mnist_epoch"):
        rows += _epoch_rows(results["mnist_epoch"])
    rows += [_step_row(entry) for entry in results.get("optimizer_step", [])]
    if results.get("homework_grid") and "ratio_to_limit" in results["homework_grid"]:
        rows.append(_grid_row(results["homework_grid"]))
    for entry in results.get("gan", []):
        rows += _gan_rows(entry)
    for name, seconds in results.get("chapters", {}).items():
        rows.append(
            (f"Chapter {name}, executed from an empty cache", format_seconds(seconds), "", "", "")
        )
    return rows


# What the performance page quotes -----------------------------------------------------------------


def epoch_figures(results: dict) -> dict[str, float]:
    """Epoch times and ratios, and what a minibatch costs beyond its arithmetic limit."""
    epoch = results["mnist_epoch"]
    s = epoch["seconds"]
    n_batches = math.ceil(epoch["train_size"] / epoch["batch_size"])
    return {
        "train_size": epoch["train_size"],
        "batch_size": epoch["batch_size"],
        "hidden": epoch["hidden_dim"],
        "n_batches": n_batches,
        "matmul_size": epoch["matmul_size"],
        "epoch_gflop": epoch["flops_per_epoch"] / 1e9,
        "peak_gflops": epoch["matmul_gflops"],
        "epoch_project": s["project"],
        "epoch_dataloader": s["dataloader"],
        "limit": s["limit"],
        "speedup": epoch["speedup_vs_dataloader"],
        "speedup_target": epoch["target_speedup_vs_dataloader"],
        "ratio_limit": epoch["ratio_to_limit"],
        "batch_beyond_limit_ms": (s["project"] - s["limit"]) / n_batches * 1e3,
    }


def optimizer_figures(results: dict) -> dict[str, float]:
    """How many optimizers meet the step target; the fused step's gain over the loop."""
    entries = results["optimizer_step"]
    fused = [e for e in entries if "ours_fused" in e["seconds_per_step"]]
    gains = [e["seconds_per_step"]["ours"] / e["seconds_per_step"]["ours_fused"] for e in fused]
    return {
        "n_optimizers": len(entries),
        "tensors": entries[0]["tensors"],
        "parameters": entries[0]["parameters"],
        "step_target": entries[0]["target"],
        "step_met": sum(e["ratio"] <= e["target"] for e in entries),
        "step_worst": max(e["ratio"] for e in entries),
        "step_best": min(e["ratio"] for e in entries),
        "n_fused": len(fused),
        "fused_gain_min": min(gains),
        "fused_gain_max": max(gains),
    }


def grid_figures(results: dict) -> dict[str, float]:
    """The timed homework grid against its limit, and the parts of its time (seconds per core)."""
    grid = results["homework_grid"]
    parts = grid["breakdown"]
    return {
        "grid_runs": grid["runs"],
        "grid_epochs": grid["epochs"],
        "grid_full_epochs": grid["full_epochs"],
        "grid_workers": grid["workers"],
        "grid_wall": grid["wall_seconds"],
        "grid_limit": grid["limit_seconds"],
        "grid_ratio": grid["ratio_to_limit"],
        "grid_target": grid["target_ratio_to_limit"],
        "grid_gflops": grid["matmul_gflops"],
        "grid_products_ms": grid["step_parts"]["products"] * 1e3,
        "grid_floor_ratio": (parts["matrix products"] + parts["optimizer steps"])
        / grid["limit_seconds"],
    }


#: The parts of the grid's wall time, in the order of measurements.measure_grid's docstring.
BREAKDOWN = (
    "matrix products",
    "optimizer steps",
    "rest of the step",
    "side by side",
    "outside the epochs",
)


def grid_breakdown_rows(results: dict) -> list[tuple[str, str, str, str]]:
    """The grid's wall time, part by part: (part, seconds per core, share of the wall time,
    cumulative multiple of the limit)."""
    grid = results["homework_grid"]
    rows, total = [], 0.0
    for name in BREAKDOWN:  # the stored file's keys are sorted
        seconds = grid["breakdown"][name]
        total += seconds
        rows.append((name, format_seconds(seconds), f"{seconds / grid['wall_seconds']:.0%}",
                     f"{total / grid['limit_seconds']:.2f}×"))  # fmt: skip
    return rows


def gan_figures(results: dict) -> dict[str, float]:
    """Range of single-run iteration rates over the Lipschitz methods, and of the stacked
    training's gain per run at the largest stack measured."""
    gans = results["gan"]
    figures = {
        "gan_iterations": gans[0]["homework_iterations"],
        "gan_fastest": max(g["iterations_per_second"] for g in gans),
        "gan_slowest": min(g["iterations_per_second"] for g in gans),
    }
    stacked = [g for g in gans if g.get("stacked_per_run")]
    if stacked:
        largest = max(int(size) for size in stacked[0]["stacked_per_run"])
        gains = [g["stacked_per_run"][str(largest)] / g["iterations_per_second"] for g in stacked]
        figures |= {
            "gan_stack": largest,
            "gan_stack_gain_min": min(gains),
            "gan_stack_gain_max": max(gains),
        }
    return figures


def plot_optimizer_steps(results: dict):
    """Grouped bars: microseconds per step of each optimizer, hand-written (loop, fused) and
    ``torch.optim`` (default, fused). Returns the figure."""
    entries = results["optimizer_step"]
    series = (
        ("ours", "lib.optim, loop"),
        ("ours_fused", "lib.optim, fused"),
        ("torch", "torch.optim"),
        ("torch_fused", "torch.optim, fused"),
    )
    x = np.arange(len(entries))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for i, (key, label) in enumerate(series):
        values = [entry["seconds_per_step"].get(key, np.nan) * 1e6 for entry in entries]
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=label)
    ax.set_xticks(x, [entry["optimizer"] for entry in entries])
    ax.set_ylabel("µs per step")
    ax.set_title(f"One step on the MNIST model's {entries[0]['parameters']:,} parameters")
    ax.legend(ncols=2, fontsize="small")
    fig.tight_layout()
    return fig
