"""The optimizer grid of homework §2: every (optimizer, learning rate, seed), trained or loaded
from :mod:`lib.cache` (``python -m lib.mnist.grid`` does it for the active profile)."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

from lib.cache import Entry, check_writable
from lib.config import PROFILES, OptimizerGridConfig
from lib.mnist.data import MNISTTensors, load_mnist
from lib.mnist.training import RunResult, run_settings, train_run
from lib.progress import Progress
from lib.runtime import parallel_map, training_device

#: The modules whose source computes a run: editing one of them trains the grid again.
RUN_CODE = (
    "lib.mnist.training",
    "lib.mnist.data",
    "lib.optim.optimizers",
    "lib.optim.base",
    "lib.runtime",
)


def grid_runs(config: OptimizerGridConfig) -> list[tuple[str, float, int]]:
    """Every (optimizer, learning rate, seed) of the grid, in the order they are trained."""
    return [
        (name, lr, seed)
        for lr in config.learning_rates
        for name in config.optimizers
        for seed in config.seeds
    ]


def run_entry(
    run: tuple[str, float, int], config: OptimizerGridConfig, root: str | Path | None = None
) -> Entry:
    """Where the cache keeps one run of ``config``."""
    optimizer, lr, seed = run
    settings = {"optimizer": optimizer, "lr": float(lr), "seed": seed, **run_settings(config)}
    return Entry("mnist", settings, RUN_CODE, device=training_device(), root=root)


def run_grid(
    config: OptimizerGridConfig, root: str | Path | None = None, progress: bool = True
) -> list[RunResult]:
    """Every run of the grid, in :func:`grid_runs` order: loaded when stored, else trained
    ``config.workers`` at a time (single-threaded processes) and saved as soon as it ends."""
    runs = grid_runs(config)
    entries = {run: run_entry(run, config, root) for run in runs}
    results = {run: e.load(lambda stored: RunResult(**stored)) for run, e in entries.items()}
    missing = [run for run, result in results.items() if result is None]
    if missing:
        check_writable(entries[missing[0]].path.parent)
        train = load_mnist(train=True, size=config.train_size)
        test = load_mnist(train=False, size=config.test_size)
        jobs = [(run, train, test, config) for run in missing]
        quiet = 5.0 if progress else math.inf
        done = len(runs) - len(missing)
        with Progress("optimizers", len(runs), done, quiet_seconds=quiet, bar=progress) as bar:
            # The tensors travel to worker processes through shared memory, not as copies.
            for index, result in parallel_map(_train_job, jobs, config.workers):
                entries[missing[index]].save(dataclasses.asdict(result))
                results[missing[index]] = result
                bar.update()
    return [results[run] for run in runs]


def _train_job(
    job: tuple[tuple[str, float, int], MNISTTensors, MNISTTensors, OptimizerGridConfig],
) -> RunResult:
    run, train, test, config = job
    return train_run(*run, train, test, config)


def main(argv: list[str] | None = None) -> int:
    """Train (or load) the grid of a profile: ``python -m lib.mnist.grid [--profile quick]``."""
    parser = argparse.ArgumentParser(
        prog="python -m lib.mnist.grid",
        description="Train the optimizer grid of homework §2 (OptimizerGridConfig in "
        "lib/config.py), or load the runs already stored under results/ ($RESULTS_DIR). "
        "An interrupted grid resumes from the runs it stored.",
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        default=None,
        help="settings to run (default: $BOOK_PROFILE, else full)",
    )
    args = parser.parse_args(argv)
    config = OptimizerGridConfig.for_profile(args.profile)
    start = time.perf_counter()
    try:
        results = run_grid(config)
    except KeyboardInterrupt:
        return 130  # Progress said what is stored
    except OSError as error:
        print(f"lib.mnist.grid: {error}", file=sys.stderr)
        return 1
    diverged = [f"{r.optimizer} lr={r.lr!r} seed={r.seed}" for r in results if r.diverged]
    print(
        f"{len(results)} runs ready in {time.perf_counter() - start:.0f} s "
        f"(training time {sum(sum(r.epoch_time) for r in results):.0f} s summed over runs); "
        f"diverged: {', '.join(diverged) or 'none'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
