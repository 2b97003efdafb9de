"""The MNIST benchmark of homework §2: an MLP trained by each optimizer at each learning rate.

* :func:`make_mlp`, :func:`make_optimizer`: the model and an optimizer by name;
* :func:`train_epoch`, :func:`evaluate`: one pass over the training set, loss and accuracy on a set;
* :func:`train_run`: one (optimizer, learning rate, seed) run, returned as a :class:`RunResult`.
The grid of runs (:func:`lib.mnist.grid.run_grid`) trains these runs and stores each one.

Training draws seeded minibatches from tensors held in memory (see :mod:`lib.mnist.data`). The
loop is kept lean, since a small MLP's epoch is dominated by overhead rather than arithmetic:
losses and correct counts are summed on the device and read by the host only at the epoch's
trace points (a host read waits for the device, and on a CPU each one costs a few microseconds
of synchronisation per minibatch); evaluation runs in large batches without autograd.

A run diverges when a training loss exceeds :data:`DIVERGED_LOSS` or becomes non-finite, or a
parameter or the evaluation becomes non-finite; it then stops and records the epoch
(:attr:`RunResult.diverged_epoch`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from lib.config import OptimizerGridConfig
from lib.mnist.data import IMAGE_PIXELS, NUM_CLASSES, MNISTTensors
from lib.optim.optimizers import OPTIMIZER_CLASSES
from lib.runtime import seed_everything, training_device

EVAL_BATCH_SIZE = 10_000  # images per forward pass when evaluating; only memory depends on it
#: Runs of at least this many optimizer steps use the fused (compiled) step where the optimizer
#: offers one: compiling takes about 1 s per optimizer class and process with a warm cache (up
#: to ~10 s cold) and saves 0.1–3 ms per step, so it pays from about a thousand steps on (a
#: full-profile run takes 9,000; the quick profile's and the tests' runs, a hundred or so, keep
#: the plain loop).
FUSED_MIN_STEPS = 1_000
#: A slice's mean cross-entropy above this counts as divergence, like a non-finite one: the logits
#: have exploded to about this size, and such a run sits at chance whether or not it overflows.
#: Runs that recover stay orders of magnitude below (the adaptive methods at γ = 0.5 peak near
#: 1e5 early in their first epoch, then fall back to a few units).
DIVERGED_LOSS = 1e10


def make_mlp(hidden_dim: int = 256) -> nn.Sequential:
    """The base code's classifier: 784 → hidden → ReLU → hidden → ReLU → 10 (logits)."""
    return nn.Sequential(
        nn.Linear(IMAGE_PIXELS, hidden_dim),
        nn.ReLU(),
        nn.Linear(hidden_dim, hidden_dim),
        nn.ReLU(),
        nn.Linear(hidden_dim, NUM_CLASSES),
    )


def make_optimizer(name: str, params, lr: float, **kwargs) -> torch.optim.Optimizer:
    """An optimizer of :mod:`lib.optim.optimizers` by class name, with its default hyperparameters
    (``kwargs`` go to its constructor, e.g. ``fused=True``)."""
    return OPTIMIZER_CLASSES[name](params, lr, **kwargs)


#: Settings of the grid that decide what a run computes (the lists of optimizers, learning rates
#: and seeds only choose which runs exist; ``workers`` only how many run at once).
RUN_SETTINGS = (
    "epochs",
    "batch_size",
    "hidden_dim",
    "train_size",
    "test_size",
    "trace_points_per_epoch",
)


def run_settings(config: OptimizerGridConfig) -> dict:
    """The settings that make two runs of the same (optimizer, lr, seed) identical."""
    return {name: getattr(config, name) for name in RUN_SETTINGS}


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
    diverged_epoch: int | None = None  # 1-based epoch whose loss exploded or became non-finite

    @property
    def diverged(self) -> bool:
        return self.diverged_epoch is not None

    @property
    def final_test_accuracy(self) -> float:
        """Test accuracy after the last epoch; NaN for a diverged run."""
        return math.nan if self.diverged or not self.test_accuracy else self.test_accuracy[-1]


@dataclass(frozen=True)
class EpochStats:
    """What one pass over the training set measured (means over the minibatches seen)."""

    loss: float
    accuracy: float
    loss_trace: list[float]  # mean minibatch loss over consecutive slices of the epoch
    diverged: bool  # a slice's loss exploded; the epoch stopped at the end of that slice


def _slice_ends(n_batches: int, trace_points: int) -> list[int]:
    """The minibatch counts after which each trace slice ends (at most one slice per batch)."""
    return sorted({math.ceil((k + 1) * n_batches / trace_points) for k in range(trace_points)})


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: MNISTTensors,
    batch_size: int,
    generator: torch.Generator,
    trace_points: int = 1,
) -> EpochStats:
    """One epoch of minibatch training in an order drawn from ``generator``.

    The training loss and accuracy are means over the epoch's minibatches (each measured before
    that minibatch's update), as the base code reports them. ``trace_points`` splits the epoch
    into that many slices (one per minibatch if there are fewer minibatches) and records the mean
    loss of each. The loss and correct counts are summed on the device; the host reads them once
    per slice, and stops the epoch (``diverged=True``) after a slice whose mean loss is non-finite
    or above :data:`DIVERGED_LOSS` — the sum is non-finite as soon as one minibatch's loss is.
    """
    model.train()
    device = data.images.device
    # The order is drawn on the CPU (the generator lives there), then moved to the data.
    batches = torch.randperm(len(data), generator=generator).to(device).split(batch_size)
    ends = _slice_ends(len(batches), trace_points)
    loss_sum = torch.zeros((), device=device)  # summed over the current slice's examples
    correct = torch.zeros((), dtype=torch.int64, device=device)  # over the whole epoch
    trace, total_loss, seen, start = [], 0.0, 0, 0
    for end in ends:
        for index in batches[start:end]:
            # index_select, not data.images[index]: the same rows, gathered about 3x faster on a
            # CPU (advanced indexing takes a slower general path).
            x, y = data.images.index_select(0, index), data.labels.index_select(0, index)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum.add_(loss.detach(), alpha=len(index))
            correct.add_((logits.detach().argmax(dim=1) == y).sum())
        examples = sum(len(index) for index in batches[start:end])
        slice_loss = loss_sum.item()  # the host's one read per slice
        if not slice_loss / examples <= DIVERGED_LOSS:  # also NaN and infinity
            return EpochStats(loss=math.nan, accuracy=math.nan, loss_trace=trace, diverged=True)
        trace.append(slice_loss / examples)
        total_loss, seen, start = total_loss + slice_loss, seen + examples, end
        loss_sum.zero_()
    return EpochStats(
        loss=total_loss / seen, accuracy=correct.item() / seen, loss_trace=trace, diverged=False
    )


@torch.inference_mode()
def evaluate(model: nn.Module, data: MNISTTensors) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``data``, in large batches, read once."""
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=data.images.device)
    correct = torch.zeros((), dtype=torch.int64, device=data.images.device)
    for start in range(0, len(data), EVAL_BATCH_SIZE):
        x = data.images[start : start + EVAL_BATCH_SIZE]
        y = data.labels[start : start + EVAL_BATCH_SIZE]
        logits = model(x)
        loss_sum += F.cross_entropy(logits, y, reduction="sum")
        correct += (logits.argmax(dim=1) == y).sum()
    return loss_sum.item() / len(data), correct.item() / len(data)


def parameters_finite(model: nn.Module) -> bool:
    """Whether every parameter of ``model`` is finite (one host read for all of them)."""
    return bool(torch.stack([p.detach().isfinite().all() for p in model.parameters()]).all())


def train_run(
    optimizer: str,
    lr: float,
    seed: int,
    train: MNISTTensors,
    test: MNISTTensors,
    config: OptimizerGridConfig,
) -> RunResult:
    """Train a fresh MLP (initialised from ``seed``) with one optimizer for ``config.epochs``.

    The same seed gives every optimizer the same initial weights and the same minibatch order.
    The run stops in the first epoch where a trace slice's training loss, a parameter after the
    epoch, or the test loss is non-finite, and records that epoch as diverged: its finite trace
    points are kept, its per-epoch figures are not. Long runs use the optimizer's fused step
    (:data:`FUSED_MIN_STEPS`).
    """
    seed_everything(seed)
    device = training_device()
    train, test = train.to(device), test.to(device)
    model = make_mlp(config.hidden_dim).to(device)
    steps = config.epochs * math.ceil(len(train) / config.batch_size)
    fused = OPTIMIZER_CLASSES[optimizer].supports_fused and steps >= FUSED_MIN_STEPS
    opt = make_optimizer(optimizer, model.parameters(), lr, **({"fused": True} if fused else {}))
    generator = torch.Generator().manual_seed(seed)
    result = RunResult(optimizer=optimizer, lr=lr, seed=seed, settings=run_settings(config))
    for epoch in range(1, config.epochs + 1):
        start = time.perf_counter()
        stats = train_epoch(
            model, opt, train, config.batch_size, generator, config.trace_points_per_epoch
        )
        seconds = time.perf_counter() - start  # the epoch's last read waited for the device
        result.loss_trace.extend(stats.loss_trace)
        if stats.diverged or not parameters_finite(model):
            result.diverged_epoch = epoch
            break
        test_loss, test_accuracy = evaluate(model, test)
        if not math.isfinite(test_loss):  # finite weights whose logits overflow
            result.diverged_epoch = epoch
            break
        result.train_loss.append(stats.loss)
        result.train_accuracy.append(stats.accuracy)
        result.test_loss.append(test_loss)
        result.test_accuracy.append(test_accuracy)
        result.epoch_time.append(seconds)
    return result
