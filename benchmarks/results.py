"""The benchmarks' results: a JSON file, merged across runs, and the summary table.

The file holds one section per benchmark (``mnist_epoch``, ``optimizer_step``, ``gan``,
``homework_grid``), ``measured_at`` (when each section was measured) and ``wall_times``, a
mapping from a task's name to its timing. A new run replaces the sections it measured and keeps
the others; wall times are merged by name, so recording ``make_test`` keeps a recorded
``book_build``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from lib.config import repo_root

SECTIONS = ("mnist_epoch", "optimizer_step", "gan", "homework_grid")
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


#: Entries that map names to values and are merged name by name rather than replaced.
MERGED_BY_NAME = ("wall_times", "measured_at")


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


def summary_rows(results: dict) -> list[tuple[str, str, str, str, str]]:
    """One row per figure of ``results``: (figure, measured, ratio, target, met)."""
    rows = []
    epoch = results.get("mnist_epoch")
    if epoch:
        s = epoch["seconds"]
        targets = epoch["targets"]
        rows.append(("MNIST epoch: project loop", format_seconds(s["project"]), "", "", ""))
        rows.append(("MNIST epoch: DataLoader loop", format_seconds(s["dataloader"]),
                     f"{epoch['speedup_vs_dataloader']:.2f}× faster",
                     f"≥ {targets['speedup_vs_dataloader']:g}×",
                     _verdict(epoch["speedup_vs_dataloader"] >= targets["speedup_vs_dataloader"])))
        rows.append((f"MNIST epoch: arithmetic limit ({epoch['matmul_gflops']:.0f} GFLOP/s)",
                     format_seconds(s["limit"]), f"{epoch['ratio_to_limit']:.2f}× the limit",
                     f"≤ {targets['ratio_to_limit']:g}×",
                     _verdict(epoch["ratio_to_limit"] <= targets["ratio_to_limit"])))
        rows.append(("MNIST epoch: its matmuls alone", format_seconds(s["matmuls"]),
                     f"{epoch['ratio_to_matmuls']:.2f}× the matmuls", "", ""))
    for entry in results.get("optimizer_step", []):
        step = entry["seconds_per_step"]
        rows.append((f"{entry['optimizer']} step vs torch.optim",
                     f"{format_seconds(step['ours'])} vs {format_seconds(step['torch'])}",
                     f"{entry['ratio']:.2f}× (foreach {entry['ratio_foreach']:.2f}×)",
                     f"≤ {entry['target']:g}×",
                     _verdict(max(entry["ratio"], entry["ratio_foreach"]) <= entry["target"])))
    for entry in results.get("gan", []):
        rows.append((f"WGAN, {entry['lipschitz'].replace('_', ' ')}",
                     f"{entry['iterations_per_second']:.0f} it/s",
                     f"run of {entry['homework_iterations']} it: "
                     f"{format_seconds(entry['homework_run_seconds'])}", "", ""))
    grid = results.get("homework_grid")
    if grid:
        measured = (format_seconds(grid["wall_seconds"]) if grid["runs_stored"]
                    else "no stored runs")
        label = "full" if grid.get("profile") == "full" else f"{grid.get('profile')} profile"
        rows.append((f"Wall time: optimizer grid ({label}, from stored run times)", measured,
                     f"{grid['runs_stored']}/{grid['runs_total']} runs stored, "
                     f"{grid['workers']} at once", "", ""))
    for name, entry in sorted(results.get("wall_times", {}).items()):
        how = entry["source"] + (f", exit {entry['returncode']}" if "returncode" in entry else "")
        rows.append((f"Wall time: {name}", format_seconds(entry["seconds"]), how, "", ""))
    return rows


def format_table(headers, rows) -> str:
    """A plain-text table with aligned columns, a rule under the headers."""
    table = [tuple(str(cell) for cell in headers)] + [tuple(str(c) for c in row) for row in rows]
    if any(len(row) != len(table[0]) for row in table):
        raise ValueError(f"rows must each have {len(table[0])} cells like headers")
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in table]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown_table(headers, rows) -> str:
    """The same table in Markdown (``|`` in a cell is escaped)."""
    def line(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"
    if any(len(row) != len(headers) for row in rows):
        raise ValueError(f"rows must each have {len(headers)} cells like headers")
    return "\n".join([line(headers), line(["---"] * len(headers))] + [line(r) for r in rows])
