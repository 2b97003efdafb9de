"""The optimizer grid of homework §2: every (optimizer, learning rate, seed), trained or loaded.

Each run is stored (see :mod:`lib.mnist.store`) as soon as it ends, so an interrupted grid
resumes where it stopped and a finished one only loads: ``python -m lib.mnist.grid`` trains (or
loads) the grid of the active profile. Stored runs are keyed on the code and settings that
computed them, so a changed optimizer or training loop retrains the grid; a stored file that is
unreadable or fails its checks is logged and its run trained again, never an error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from lib.config import OptimizerGridConfig
from lib.mnist.data import MNISTTensors, load_mnist
from lib.mnist.store import (
    RunResult,
    load_run,
    record_problem,
    results_dir,
    run_path,
    run_provenance,
    run_settings,
    save_run,
)
from lib.mnist.training import train_run
from lib.runtime import parallel_map
from lib.store import clean_stale_temps, read_json, write_json


def grid_runs(config: OptimizerGridConfig) -> list[tuple[str, float, int]]:
    """Every (optimizer, learning rate, seed) of the grid, in the order they are trained."""
    return [
        (name, lr, seed)
        for lr in config.learning_rates
        for name in config.optimizers
        for seed in config.seeds
    ]


def run_grid(
    config: OptimizerGridConfig, root: str | Path | None = None, progress: bool = True
) -> list[RunResult]:
    """Every run of the grid: loaded from the results folder when stored, trained otherwise.

    MNIST is loaded only if a run is missing. Missing runs (never stored, or stored in a file
    that fails its checks) are trained ``config.workers`` at a time, each in a single-threaded
    process (or in this process when ``workers`` is 1), and each is saved as soon as it ends, so
    an interrupted call loses only the runs in progress; temporary files that an interrupted
    call left are removed. Every run is seeded, so a resumed grid has the numbers of an
    uninterrupted one. Runs come back in :func:`grid_runs` order.
    """
    directory = results_dir(config, root)
    clean_stale_temps(directory)
    runs = grid_runs(config)
    results = {run: load_run(run_path(directory, *run), config) for run in runs}
    missing = [run for run, result in results.items() if result is None]
    if missing:
        train = load_mnist(train=True, size=config.train_size)
        test = load_mnist(train=False, size=config.test_size)
        # For a reader of the results folder: the settings, and all that the key stands for.
        write_json(directory / "settings.json", run_settings(config))
        write_json(directory / "provenance.json", run_provenance(run_settings(config)))
        bar = tqdm(total=len(missing), desc="optimizer grid", unit="run", disable=not progress)
        for run, result in _train_runs(missing, train, test, config):
            path = run_path(directory, *run)
            save_run(result, path)
            # A run that fails the store's checks as soon as it is trained would be trained
            # again on every call: that is a bug in the training code, reported here.
            problem = record_problem(read_json(path), path, config)
            if problem is not None:
                raise RuntimeError(f"the run {run} as trained fails the store's checks: {problem}")
            results[run] = result
            bar.set_postfix_str(f"{run[0]} lr={run[1]!r} seed={run[2]}", refresh=False)
            bar.update()
        bar.close()
    return [results[run] for run in runs]


def _train_job(
    job: tuple[tuple[str, float, int], MNISTTensors, MNISTTensors, OptimizerGridConfig],
) -> RunResult:
    run, train, test, config = job
    return train_run(*run, train, test, config)


def _train_runs(
    runs: list[tuple[str, float, int]],
    train: MNISTTensors,
    test: MNISTTensors,
    config: OptimizerGridConfig,
) -> Iterator[tuple[tuple[str, float, int], RunResult]]:
    """Yield ``(run, result)`` as each run finishes, ``config.workers`` runs at a time.

    The tensors travel to worker processes through shared memory, not as copies.
    """
    jobs = [(run, train, test, config) for run in runs]
    for index, result in parallel_map(_train_job, jobs, config.workers):
        yield runs[index], result


def main() -> None:
    """Train (or load) the grid of the active profile: ``python -m lib.mnist.grid``."""
    config = OptimizerGridConfig.for_profile()
    start = time.perf_counter()
    results = run_grid(config)
    diverged = [f"{r.optimizer} lr={r.lr!r} seed={r.seed}" for r in results if r.diverged]
    print(
        f"{len(results)} runs ready in {time.perf_counter() - start:.0f} s "
        f"(training time {sum(sum(r.epoch_time) for r in results):.0f} s summed over runs) "
        f"in {results_dir(config)}; diverged: {', '.join(diverged) or 'none'}"
    )


if __name__ == "__main__":
    main()
