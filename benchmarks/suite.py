"""Running the benchmarks: the chosen sections, one after the other, into one results dict."""

from __future__ import annotations

from datetime import datetime, timezone

from tqdm import tqdm

from benchmarks.environment import describe, pick_device
from benchmarks.gan_iterations import measure_gans
from benchmarks.mnist_epoch import measure_epoch
from benchmarks.optimizer_step import measure_optimizers
from benchmarks.results import SECTIONS
from benchmarks.wall_times import homework_grid
from lib.config import BenchmarkConfig, OptimizerGridConfig, active_profile
from lib.runtime import cpu_threads


def run_benchmarks(profile: str | None = None, sections=SECTIONS, progress: bool = True,
                   **overrides) -> dict:
    """Measure ``sections`` (names from :data:`benchmarks.results.SECTIONS`) with the sizes of
    ``profile``'s :class:`BenchmarkConfig`, changed by ``overrides`` (its field names); return
    the results (without wall times)."""
    unknown = [name for name in sections if name not in SECTIONS]
    if unknown:
        raise ValueError(f"sections must be names from {SECTIONS}, got {unknown}")
    profile = active_profile(profile)
    config = BenchmarkConfig.for_profile(profile, **overrides)
    grid = OptimizerGridConfig.for_profile(profile)
    device = pick_device()
    measures = {
        "mnist_epoch": lambda: measure_epoch(config, grid, device),
        "optimizer_step": lambda: measure_optimizers(config, grid, device),
        "gan": lambda: measure_gans(config),
        "homework_grid": lambda: homework_grid(grid, profile),
    }
    results = {
        "profile": profile,
        "config": config.__dict__ | {"gan_iterations": list(config.gan_iterations)},
        "environment": describe(device, config.threads),
        "created": _now(),
    }
    results["measured_at"] = {}
    with cpu_threads(config.threads):  # as the optimizer grid trains
        for name in tqdm(sections, desc="benchmarks", unit="section", disable=not progress):
            results["measured_at"][name] = _now()
            results[name] = measures[name]()
    return results


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
