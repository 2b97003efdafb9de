"""The benchmarks' results: a JSON file merged across runs, its summary table, the figures the
performance page quotes, wall times of whole tasks, and the page's plot.

The file holds one section per measurement (:data:`benchmarks.measurements.SECTIONS`),
``measured_at`` (when each section was measured) and ``wall_times``, a mapping from a task's
name to its timing. A new run replaces the sections it measured and keeps the others; wall times
are merged by name, so recording ``make_test`` keeps a recorded ``book_build``.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from lib.config import repo_root

HEADERS = ("Figure", "Measured", "Ratio", "Target", "Met")
#: Entries that map names to values and are merged name by name rather than replaced.
MERGED_BY_NAME = ("wall_times", "measured_at")

# --------------------------------------------------------------------------------------------
# The file


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


def merge_results(old: dict | None, new: dict) -> dict:
    """``new`` over ``old``: new sections replace old ones; wall times and the sections'
    measurement times are merged by name."""
    merged = dict(old or {})
    for key, value in new.items():
        if key not in MERGED_BY_NAME:
            merged[key] = value
    for key in MERGED_BY_NAME:
        merged[key] = {**(old or {}).get(key, {}), **new.get(key, {})}
    return merged


# --------------------------------------------------------------------------------------------
# Wall times of whole tasks

#: The targets for whole tasks, in seconds, by the name their wall time is stored under:
#: the full book (HTML and PDF, every experiment) built from a clean clone whose Python
#: environment is installed, and the test suite.
WALL_TIME_TARGETS = {"book_full_clean_clone": 600.0, "make_test": 180.0}


def parse_assignment(text: str, option: str) -> tuple[str, str]:
    """Split ``NAME=VALUE`` (as given to ``--record`` or ``--time-command``)."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name or not value.strip():
        raise ValueError(f"{option} must look like NAME=VALUE, got {text!r}")
    if not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"{option} name must be letters, digits, '_' or '-', got {name!r}")
    return name, value.strip()


def recorded(text: str) -> tuple[str, dict]:
    """The entry for ``--record NAME=SECONDS``: a wall time measured elsewhere."""
    name, value = parse_assignment(text, "--record")
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"--record seconds must be a finite number >= 0, got {value!r}")
    return name, {"seconds": seconds, "source": "recorded", "when": _now()}


def timed(text: str) -> tuple[str, dict]:
    """The entry for ``--time-command NAME=COMMAND``: run ``COMMAND`` in a shell and time it."""
    name, command = parse_assignment(text, "--time-command")
    start = time.perf_counter()
    completed = subprocess.run(command, shell=True, check=False)
    seconds = time.perf_counter() - start
    return name, {
        "seconds": seconds,
        "source": "timed",
        "command": command,
        "returncode": completed.returncode,
        "when": _now(),
    }


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------------------------
# The summary table


def format_seconds(seconds: float) -> str:
    """A duration in the unit that reads best: ``"152 µs"``, ``"3.4 ms"``, ``"1.23 s"``,
    ``"4 min 05 s"``, ``"1 h 02 min"``."""
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}")
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    if seconds < 3600:
        minutes, rest = divmod(round(seconds), 60)
        return f"{minutes} min {rest:02d} s"
    hours, rest = divmod(round(seconds / 60), 60)
    return f"{hours} h {rest:02d} min"


def _verdict(ok: bool) -> str:
    return "yes" if ok else "NO"


def _epoch_rows(epoch: dict) -> list[tuple]:
    s, target = epoch["seconds"], epoch["target_speedup_vs_dataloader"]
    return [
        (
            "MNIST epoch: project loop vs DataLoader + ToTensor",
            f"{format_seconds(s['project'])} vs {format_seconds(s['dataloader'])}",
            f"{epoch['speedup_vs_dataloader']:.2f}× faster",
            f"≥ {target:g}×",
            _verdict(epoch["speedup_vs_dataloader"] >= target),
        ),
        (
            f"MNIST epoch: vs its arithmetic limit ({epoch['matmul_gflops']:.0f} GFLOP/s)",
            f"{format_seconds(s['project'])} vs {format_seconds(s['limit'])}",
            f"{epoch['ratio_to_limit']:.2f}× the limit",
            "",
            "",
        ),
        (
            "MNIST epoch: vs its matmuls alone",
            f"{format_seconds(s['project'])} vs {format_seconds(s['matmuls'])}",
            f"{epoch['ratio_to_matmuls']:.2f}× the matmuls",
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
        _verdict(entry["ratio"] <= entry["target"]),
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
        _verdict(grid["ratio_to_limit"] <= target),
    )


def _gan_rows(entry: dict) -> list[tuple]:
    name = entry["lipschitz"].replace("_", " ")
    rows = [
        (
            f"WGAN, {name}: one run",
            f"{entry['iterations_per_second']:.0f} it/s",
            (
                f"run of {entry['homework_iterations']} it: "
                f"{format_seconds(entry['homework_run_seconds'])}"
            ),
            "",
            "",
        )
    ]
    for size, rate in entry.get("stacked_per_run", {}).items():
        rows.append(
            (
                f"WGAN, {name}: {size} runs stacked",
                f"{rate:.0f} it/s per run",
                f"{rate / entry['iterations_per_second']:.2f}× one run",
                "",
                "",
            )
        )
    return rows


def summary_rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    """One row per figure of ``results``: (figure, measured, ratio, target, met)."""
    rows = []
    if results.get("mnist_epoch"):
        rows += _epoch_rows(results["mnist_epoch"])
    rows += [_step_row(entry) for entry in results.get("optimizer_step", [])]
    if results.get("homework_grid") and "ratio_to_limit" in results["homework_grid"]:
        rows.append(_grid_row(results["homework_grid"]))
    parallel = results.get("parallelism")
    if parallel and "grid_seconds" in parallel:
        for name, seconds in parallel["grid_seconds"].items():
            rows.append(
                (
                    f"Homework grid estimated from one-epoch runs: {name.replace('_', ' ')}",
                    format_seconds(seconds),
                    f"{parallel['ratio_to_best'][name]:.2f}× the best",
                    "",
                    "",
                )
            )
    for entry in results.get("gan", []):
        rows += _gan_rows(entry)
    for name, entry in sorted(results.get("wall_times", {}).items()):
        how = entry["source"] + (f", exit {entry['returncode']}" if "returncode" in entry else "")
        target = WALL_TIME_TARGETS.get(name)
        rows.append(
            (
                f"Wall time: {name}",
                format_seconds(entry["seconds"]),
                how,
                "" if target is None else f"≤ {format_seconds(target)}",
                "" if target is None else _verdict(entry["seconds"] <= target),
            )
        )
    return rows


def format_table(headers, rows) -> str:
    """A plain-text table with aligned columns, a rule under the headers."""
    table = [tuple(str(cell) for cell in headers)] + [tuple(str(c) for c in row) for row in rows]
    if any(len(row) != len(table[0]) for row in table):
        raise ValueError(f"rows must each have {len(table[0])} cells like headers")
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in table
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# What the performance page quotes


def epoch_figures(results: dict) -> dict[str, float]:
    """Epoch times and ratios, and what a minibatch costs beyond its matrix products."""
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
        "matmuls": s["matmuls"],
        "speedup": epoch["speedup_vs_dataloader"],
        "speedup_target": epoch["target_speedup_vs_dataloader"],
        "ratio_limit": epoch["ratio_to_limit"],
        "ratio_matmuls": epoch["ratio_to_matmuls"],
        "shape_gflops": epoch["flops_per_epoch"] / s["matmuls"] / 1e9,
        "batch_other_ms": (s["project"] - s["matmuls"]) / n_batches * 1e3,
        "batch_matmuls_ms": s["matmuls"] / n_batches * 1e3,
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
    """The timed homework grid against its limit, and the parallel layouts compared."""
    grid, parallel = results["homework_grid"], results["parallelism"]
    return {
        "grid_runs": grid["runs"],
        "grid_epochs": grid["epochs"],
        "grid_full_epochs": grid["full_epochs"],
        "grid_workers": grid["workers"],
        "grid_wall": grid["wall_seconds"],
        "grid_limit": grid["limit_seconds"],
        "grid_ratio": grid["ratio_to_limit"],
        "grid_target": grid["target_ratio_to_limit"],
        "grid_training": grid["training_seconds"],
        "grid_gflops": grid["matmul_gflops"],
        "grid_overhead": grid["wall_seconds"] - grid["training_seconds"] / grid["cores"],
        "grid_epoch": grid["training_seconds"] / (grid["runs"] * grid["epochs"]),
        "parallel_runs": parallel["runs"],
        "parallel_best": parallel["best"],
        "parallel_tied": parallel["tied"],
        **{f"parallel_{name}": value for name, value in parallel["ratio_to_best"].items()},
    }


LAYOUT_HEADERS = (
    "Layout",
    "One-epoch runs",
    "An epoch inside a run",
    "Fixed cost",
    "Homework grid, estimated",
    "× the best",
)


def layout_rows(parallel: dict) -> list[tuple[str, ...]]:
    """One row per worker layout of the ``parallelism`` results, as :data:`LAYOUT_HEADERS`."""
    return [
        (
            name.replace("_", " "),
            format_seconds(seconds),
            f"{parallel['epoch_seconds'][name]:.2f} s",
            format_seconds(parallel["fixed_seconds"][name]),
            format_seconds(parallel["grid_seconds"][name]),
            f"{parallel['ratio_to_best'][name]:.2f}",
        )
        for name, seconds in parallel["seconds"].items()
    ]


def layout_verdict(parallel: dict) -> str:
    """What the ``parallelism`` results say of the layouts for the book's grid, in words: the
    best one (or those tied with it, not ranked) and how much longer each other one takes."""
    ranked = (parallel["best"], *parallel["tied"])
    named = [name.replace("_", " ") for name in ranked]
    if parallel["tied"]:
        verdict = (
            f"{' and '.join(named)} are within the spread of their {parallel['repeats']} "
            "repeated timings, so this measurement does not rank them"
        )
    else:
        verdict = f"the fastest for the book's grid is {named[0]}"
    slower = [
        f"{name.replace('_', ' ')} would take {ratio:.2f} times as long"
        for name, ratio in parallel["ratio_to_best"].items()
        if name not in ranked
    ]
    return "; ".join([verdict, *slower])


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
