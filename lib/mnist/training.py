"""The MNIST benchmark of homework §2: an MLP trained by each optimizer at each learning rate.

* :func:`make_mlp`, :func:`make_optimizer`: the model and an optimizer by name;
* :func:`train_epoch`, :func:`evaluate`: one pass over the training set, accuracy on a set;
* :func:`train_run`: one (optimizer, learning rate, seed) run, returned as a :class:`RunResult`;
The grid of runs (:func:`lib.mnist.grid.run_grid`) trains these runs and stores each one.

Training draws seeded minibatches from tensors held in memory (see :mod:`lib.mnist`). A run
whose loss becomes non-finite stops and is recorded as diverged.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from lib.config import OptimizerGridConfig
from lib.mnist.data import IMAGE_PIXELS, NUM_CLASSES, MNISTTensors
from lib.mnist.store import RunResult, run_settings
from lib.optim.optimizers import OPTIMIZER_CLASSES
from lib.runtime import seed_everything, training_device
from lib.validation import check_int

EVAL_BATCH_SIZE = 10_000  # images per forward pass when evaluating; only memory depends on it


def make_mlp(hidden_dim: int = 256) -> nn.Sequential:
    """The base code's classifier: 784 → hidden → ReLU → hidden → ReLU → 10 (logits)."""
    check_int("hidden_dim", hidden_dim, minimum=1)
    return nn.Sequential(
        nn.Linear(IMAGE_PIXELS, hidden_dim), nn.ReLU(),
        nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
        nn.Linear(hidden_dim, NUM_CLASSES),
    )


def make_optimizer(name: str, params, lr: float, **kwargs) -> torch.optim.Optimizer:
    """An optimizer of :mod:`lib.optim.optimizers` by class name, with its default hyperparameters."""
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


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, data: MNISTTensors,
                batch_size: int, generator: torch.Generator,
                trace_points: int = 1) -> EpochStats:
    """One epoch of minibatch training in an order drawn from ``generator``.

    The training loss and accuracy are running means over the epoch's minibatches (each
    measured before that minibatch's update), as the base code reports them. ``trace_points``
    splits the epoch into that many slices and records the mean loss of each.
    """
    check_int("batch_size", batch_size, minimum=1)
    check_int("trace_points", trace_points, minimum=1)
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
def evaluate(model: nn.Module, data: MNISTTensors) -> tuple[float, float]:
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


def train_run(optimizer: str, lr: float, seed: int, train: MNISTTensors, test: MNISTTensors,
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
