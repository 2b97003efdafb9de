"""The MNIST benchmark of homework §2: an MLP trained by each optimizer at each learning rate.

* :func:`make_mlp`, :func:`make_optimizer`: the model and an optimizer by name;
* :func:`train_epoch`, :func:`evaluate`: one pass over the training set, accuracy on a set;
* :func:`train_run`: one (optimizer, learning rate, seed) run, returned as a :class:`RunResult`;
* :func:`run_grid`: every run of an :class:`~lib.config.OptimizerGridConfig`, each stored as a
  JSON file as soon as it ends, so an interrupted grid resumes and a finished one only loads.

Training draws seeded minibatches from tensors held in memory (see :mod:`lib.mnist`). A run
whose loss becomes non-finite stops and is recorded as diverged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import json
import math
import os
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from lib.config import OptimizerGridConfig, results_root
from lib.device import training_device
from lib.mnist import IMAGE_PIXELS, NUM_CLASSES, TensorDataset, load_mnist
from lib.optimizers import OPTIMIZER_CLASSES
from lib.reproducibility import seed_everything

#: Settings of the grid that change what a run computes (the lists of optimizers, learning
#: rates and seeds only choose which runs exist).
RUN_SETTINGS = ("epochs", "batch_size", "hidden_dim", "train_size", "test_size",
                "trace_points_per_epoch")
EVAL_BATCH_SIZE = 10_000  # images per forward pass when evaluating; only memory depends on it


def make_mlp(hidden_dim: int = 256) -> nn.Sequential:
    """The base code's classifier: 784 → hidden → ReLU → hidden → ReLU → 10 (logits)."""
    if not isinstance(hidden_dim, int) or isinstance(hidden_dim, bool) or hidden_dim <= 0:
        raise ValueError(f"hidden_dim must be a positive integer, got {hidden_dim!r}")
    return nn.Sequential(
        nn.Linear(IMAGE_PIXELS, hidden_dim), nn.ReLU(),
        nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
        nn.Linear(hidden_dim, NUM_CLASSES),
    )


def make_optimizer(name: str, params, lr: float, **kwargs) -> torch.optim.Optimizer:
    """An optimizer of :mod:`lib.optimizers` by class name, with its default hyperparameters."""
    if name not in OPTIMIZER_CLASSES:
        raise ValueError(f"name must be one of {sorted(OPTIMIZER_CLASSES)}, got {name!r}")
    return OPTIMIZER_CLASSES[name](params, lr, **kwargs)


@dataclass(frozen=True)
class EpochStats:
    """What one pass over the training set measured (means over the minibatches seen)."""

    loss: float
    accuracy: float
    loss_trace: list[float]  # mean minibatch loss over consecutive slices of the epoch
    diverged: bool  # a minibatch loss was non-finite; the epoch stopped there


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, data: TensorDataset,
                batch_size: int, generator: torch.Generator,
                trace_points: int = 1) -> EpochStats:
    """One epoch of minibatch training in an order drawn from ``generator``.

    The training loss and accuracy are running means over the epoch's minibatches (each
    measured before that minibatch's update), as the base code reports them. ``trace_points``
    splits the epoch into that many slices and records the mean loss of each.
    """
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if not isinstance(trace_points, int) or trace_points <= 0:
        raise ValueError(f"trace_points must be a positive integer, got {trace_points!r}")
    model.train()
    n = len(data)
    # The order is drawn on the CPU (the generator lives there), then moved to the data.
    order = torch.randperm(n, generator=generator).to(data.images.device)
    n_batches = math.ceil(n / batch_size)
    slice_ends = {math.ceil((k + 1) * n_batches / trace_points) for k in range(trace_points)}
    loss_sum, correct, seen = 0.0, 0, 0
    trace, slice_loss, slice_seen = [], 0.0, 0
    for b in range(n_batches):
        index = order[b * batch_size:(b + 1) * batch_size]
        # index_select, not data.images[index]: the same rows, gathered about 3x faster on a
        # CPU (advanced indexing takes a slower general path); it saves ~5% of an epoch.
        x, y = data.images.index_select(0, index), data.labels.index_select(0, index)
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            return EpochStats(loss=math.nan, accuracy=correct / max(seen, 1),
                              loss_trace=trace, diverged=True)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        size = y.shape[0]
        loss_sum += loss_value * size
        slice_loss += loss_value * size
        correct += int((logits.argmax(dim=1) == y).sum())
        seen += size
        slice_seen += size
        if b + 1 in slice_ends:
            trace.append(slice_loss / slice_seen)
            slice_loss, slice_seen = 0.0, 0
    return EpochStats(loss=loss_sum / seen, accuracy=correct / seen, loss_trace=trace,
                      diverged=False)


@torch.inference_mode()
def evaluate(model: nn.Module, data: TensorDataset) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``data``, in large batches."""
    model.eval()
    loss_sum, correct = 0.0, 0
    for start in range(0, len(data), EVAL_BATCH_SIZE):
        x = data.images[start:start + EVAL_BATCH_SIZE]
        y = data.labels[start:start + EVAL_BATCH_SIZE]
        logits = model(x)
        loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(dim=1) == y).sum())
    return loss_sum / len(data), correct / len(data)


@dataclass
class RunResult:
    """History of one (optimizer, learning rate, seed) run; lists hold one entry per epoch."""

    optimizer: str
    lr: float
    seed: int
    settings: dict  # the grid's RUN_SETTINGS this run used
    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)  # seconds of training per epoch
    loss_trace: list[float] = field(default_factory=list)  # trace_points_per_epoch per epoch
    diverged_epoch: int | None = None  # 1-based epoch whose loss became non-finite

    @property
    def diverged(self) -> bool:
        return self.diverged_epoch is not None

    @property
    def final_test_accuracy(self) -> float:
        """Test accuracy after the last epoch; NaN for a diverged run."""
        return math.nan if self.diverged or not self.test_accuracy else self.test_accuracy[-1]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, record: dict) -> RunResult:
        return cls(**record)


def run_settings(config: OptimizerGridConfig) -> dict:
    """The settings that make two runs of the same (optimizer, lr, seed) identical."""
    return {name: getattr(config, name) for name in RUN_SETTINGS}


def train_run(optimizer: str, lr: float, seed: int, train: TensorDataset, test: TensorDataset,
              config: OptimizerGridConfig) -> RunResult:
    """Train a fresh MLP (initialised from ``seed``) with one optimizer for ``config.epochs``.

    The same seed gives every optimizer the same initial weights and the same minibatch order.
    The run stops at the first non-finite minibatch loss and records that epoch as diverged.
    """
    seed_everything(seed)
    device = training_device()
    train, test = train.to(device), test.to(device)
    model = make_mlp(config.hidden_dim).to(device)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    generator = torch.Generator().manual_seed(seed)
    result = RunResult(optimizer=optimizer, lr=lr, seed=seed, settings=run_settings(config))
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        stats = train_epoch(model, opt, train, config.batch_size, generator,
                            config.trace_points_per_epoch)
        seconds = time.perf_counter() - start
        result.loss_trace.extend(stats.loss_trace)
        if stats.diverged:
            result.diverged_epoch = epoch
            break
        test_loss, test_accuracy = evaluate(model, test)
        result.train_loss.append(stats.loss)
        result.train_accuracy.append(stats.accuracy)
        result.test_loss.append(test_loss)
        result.test_accuracy.append(test_accuracy)
        result.epoch_time.append(seconds)
    return result


def config_key(config: OptimizerGridConfig) -> str:
    """A short name for the run settings: runs of different settings never share a folder."""
    text = json.dumps(run_settings(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def results_dir(config: OptimizerGridConfig, root: str | Path | None = None) -> Path:
    """``<root>/optimizers/<config_key>``, root defaulting to :func:`lib.config.results_root`."""
    root = Path(root) if root is not None else results_root()
    return root / "optimizers" / config_key(config)


def run_path(directory: Path, optimizer: str, lr: float, seed: int) -> Path:
    """File of one run, e.g. ``AMSGrad_lr0.01_seed2.json``."""
    return Path(directory) / f"{optimizer}_lr{lr:g}_seed{seed}.json"


def save_run(result: RunResult, path: Path) -> None:
    """Write ``result`` to ``path`` atomically: a reader sees the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as file:
            json.dump(result.to_json(), file, indent=1)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_run(path: Path, config: OptimizerGridConfig) -> RunResult | None:
    """The stored run at ``path`` if it exists and was made with ``config``'s settings."""
    try:
        result = RunResult.from_json(json.loads(Path(path).read_text()))
    except (FileNotFoundError, json.JSONDecodeError, TypeError):
        return None
    return result if result.settings == _as_json(run_settings(config)) else None


def _as_json(value):
    """``value`` as it reads back from JSON (tuples become lists)."""
    return json.loads(json.dumps(value))


def grid_runs(config: OptimizerGridConfig) -> list[tuple[str, float, int]]:
    """Every (optimizer, learning rate, seed) of the grid, in the order they are trained."""
    unknown = [name for name in config.optimizers if name not in OPTIMIZER_CLASSES]
    if unknown:
        raise ValueError(f"optimizers must be names from {sorted(OPTIMIZER_CLASSES)}, "
                         f"got {unknown}")
    return [(name, lr, seed) for lr in config.learning_rates for name in config.optimizers
            for seed in config.seeds]


@contextmanager
def training_mode_cpu(threads: int = 1) -> Iterator[None]:
    """Run the block with ``threads`` intra-op torch threads and subnormal floats flushed to zero.

    One thread per process is fastest for this small MLP: its matrices are too small to split
    well, and when other processes share the cores, threads that wait for each other cost far
    more than they gain; parallelism comes from running several runs at once instead. Flushing
    subnormals matters for runs that failed: once a weight stops receiving gradient, momentum and
    second-moment buffers decay geometrically into the subnormal range, where x86 arithmetic is
    many times slower (an epoch then takes 2-3 times as long). Values below 1.2e-38 become 0.

    Afterwards the thread count is restored and flushing switched off (torch's default; torch
    offers no way to read the previous setting).
    """
    previous = torch.get_num_threads()
    _configure_process(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
        torch.set_flush_denormal(False)


def _configure_process(threads: int) -> None:
    """Thread count and subnormal flushing of a training process (see training_mode_cpu)."""
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)


def run_grid(config: OptimizerGridConfig, root: str | Path | None = None,
             progress: bool = True) -> list[RunResult]:
    """Every run of the grid: loaded from the results folder when stored, trained otherwise.

    MNIST is loaded only if a run is missing. Missing runs are trained ``config.workers`` at a
    time, each in a single-threaded process (or in this process when ``workers`` is 1), and each
    is saved as soon as it ends, so an interrupted call loses only the runs in progress. Runs
    come back in :func:`grid_runs` order.
    """
    directory = results_dir(config, root)
    runs = grid_runs(config)
    results = {run: load_run(run_path(directory, *run), config) for run in runs}
    missing = [run for run, result in results.items() if result is None]
    if missing:
        train = load_mnist(train=True, size=config.train_size)
        test = load_mnist(train=False, size=config.test_size)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "settings.json").write_text(json.dumps(run_settings(config), indent=1))
        bar = tqdm(total=len(missing), desc="optimizer grid", unit="run", disable=not progress)
        for run, result in _train_runs(missing, train, test, config):
            save_run(result, run_path(directory, *run))
            results[run] = result
            bar.set_postfix_str(f"{run[0]} lr={run[1]:g} seed={run[2]}", refresh=False)
            bar.update()
        bar.close()
    return [results[run] for run in runs]


def _train_runs(runs: list[tuple[str, float, int]], train: TensorDataset, test: TensorDataset,
                config: OptimizerGridConfig) -> Iterator[tuple[tuple[str, float, int], RunResult]]:
    """Yield ``(run, result)`` as each run finishes, ``config.workers`` runs at a time."""
    workers = min(config.workers, len(runs))
    if workers == 1:
        with training_mode_cpu(threads=1):
            for run in runs:
                yield run, train_run(*run, train, test, config)
        return
    # "spawn": a fresh interpreter per worker (forking a process that holds torch's thread pool
    # is unsafe). The tensors travel through shared memory, not as copies.
    pool = ProcessPoolExecutor(max_workers=workers,
                               mp_context=multiprocessing.get_context("spawn"),
                               initializer=_configure_process, initargs=(1,))
    try:
        futures = {pool.submit(train_run, *run, train, test, config): run for run in runs}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def main() -> None:
    """Train (or load) the grid of the active profile: ``python -m lib.mnist_training``."""
    config = OptimizerGridConfig.for_profile()
    start = time.perf_counter()
    results = run_grid(config)
    diverged = [f"{r.optimizer} lr={r.lr:g} seed={r.seed}" for r in results if r.diverged]
    print(f"{len(results)} runs ready in {time.perf_counter() - start:.0f} s "
          f"(training time {sum(sum(r.epoch_time) for r in results):.0f} s summed over runs) "
          f"in {results_dir(config)}; diverged: {', '.join(diverged) or 'none'}")


if __name__ == "__main__":
    main()
