"""The measurements of ``python -m benchmarks``: each a ratio of timings taken in one process.

* :func:`measure_epoch` — one MNIST epoch of the project's loop (:func:`lib.mnist.training.
  train_epoch`) against the course's base-code loop (``DataLoader`` + ``ToTensor``), against
  the epoch's matrix products alone and against the arithmetic limit (its FLOPs at the measured
  peak matmul throughput);
* :func:`measure_optimizers` — one step of each hand-written optimizer, plain and fused, against
  ``torch.optim``'s counterpart, default and fused (where torch has a fused step);
* :func:`measure_grid` — the homework's grid (SGD, momentum, RMSProp, AMSGrad × its learning
  rates × its seeds), trained by :func:`lib.mnist.grid.run_grid` for as many epochs as the book
  trains (``BenchmarkConfig.grid_epochs`` may shorten it), against its arithmetic limit on
  the cores it uses, the peak measured just before;
* :func:`measure_parallelism` — the same runs in worker processes, in one process with several
  torch threads, and in several Python threads of one process, each layout's steady-state epoch
  time and fixed cost projected onto the book's grid;
* the WGAN's iterations per second, separate against stacked (:mod:`benchmarks.gan_iterations`).

:func:`run_benchmarks` runs the chosen sections into one results dict.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import torch
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from benchmarks.gan_iterations import measure_gans
from benchmarks.timing import (
    describe,
    epoch_batches,
    epoch_flops,
    evaluation_flops,
    fastest,
    interleaved,
    square_matmuls,
    training_matmuls,
)
from lib.config import BenchmarkConfig, OptimizerGridConfig, active_profile, data_root
from lib.mnist.data import IMAGE_PIXELS, MNISTTensors, load_mnist
from lib.mnist.grid import grid_runs, run_grid
from lib.mnist.training import make_mlp, make_optimizer, train_epoch, train_run
from lib.optim.optimizers import OPTIMIZER_CLASSES
from lib.runtime import cpu_threads, seed_everything, training_device

SECTIONS = ("mnist_epoch", "optimizer_step", "homework_grid", "parallelism", "gan")
#: The targets: an epoch at least this many times faster than the DataLoader loop, the
#: grid at most this many times its arithmetic limit, an optimizer step at most this many times
#: torch's fastest counterpart.
TARGET_SPEEDUP_VS_DATALOADER = 5.0
TARGET_RATIO_TO_LIMIT = 1.3
TARGET_STEP_RATIO = 1.3
#: The homework's four optimizers (§2), the grid whose time is measured.
HOMEWORK_OPTIMIZERS = ("SGD", "MomentumSGD", "RMSProp", "AMSGrad")
STEP_LR = 1e-3  # small enough that thousands of steps on fixed gradients stay finite


# --------------------------------------------------------------------------------------------
# One epoch


def base_code_loader(train_size: int | None, batch_size: int) -> DataLoader:
    """The base code's data pipeline: PIL images turned into tensors one by one by ToTensor."""
    dataset = torchvision.datasets.MNIST(
        root=str(data_root()),
        train=True,
        download=True,
        transform=torchvision.transforms.ToTensor(),
    )
    if train_size is not None:
        dataset = Subset(dataset, range(train_size))
    return DataLoader(dataset, batch_size=batch_size, shuffle=True)


def dataloader_epoch(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: DataLoader,
    device: torch.device,
) -> tuple[float, float]:
    """One epoch as the base code writes it; returns the mean loss and accuracy."""
    model.train()
    loss_sum, correct, seen = 0.0, 0, 0
    for images, labels in loader:
        images, labels = images.view(-1, IMAGE_PIXELS).to(device), labels.to(device)
        outputs = model(images)
        loss = F.cross_entropy(outputs, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss_sum += loss.item() * labels.shape[0]
        correct += (outputs.argmax(dim=1) == labels).sum().item()
        seen += labels.shape[0]
    return loss_sum / seen, correct / seen


def _operand(rows: int, cols: int, transposed: bool, device: torch.device) -> torch.Tensor:
    """A ``rows × cols`` matrix, stored transposed (column-major) if ``transposed``."""
    if transposed:
        return torch.rand(cols, rows, device=device).t()
    return torch.rand(rows, cols, device=device)


def matmul_epoch(model: torch.nn.Module, n_examples: int, batch_size: int, device: torch.device):
    """A function that performs exactly the epoch's matrix products and nothing else."""
    batches = epoch_batches(n_examples, batch_size)
    plans = {
        size: [
            (
                _operand(p.m, p.k, p.a_transposed, device),
                _operand(p.k, p.n, p.b_transposed, device),
                torch.empty(p.m, p.n, device=device),
            )
            for p in training_matmuls(model, size)
        ]
        for size in set(batches)
    }

    def run() -> None:
        for size in batches:
            for a, b, out in plans[size]:
                torch.mm(a, b, out=out)

    return run


def _fresh_model(hidden_dim: int, device: torch.device, config: BenchmarkConfig):
    seed_everything(0)
    model = make_mlp(hidden_dim).to(device)
    return model, make_optimizer(config.epoch_optimizer, model.parameters(), config.epoch_lr)


def measure_epoch(config: BenchmarkConfig, grid: OptimizerGridConfig, device: torch.device) -> dict:
    """Fastest epoch of each contender over ``config.repeats`` alternating rounds, and ratios."""
    train = load_mnist(train=True, size=config.epoch_train_size).to(device)
    n, batch_size = len(train), grid.batch_size
    loader = base_code_loader(config.epoch_train_size, batch_size)
    project_model, project_opt = _fresh_model(grid.hidden_dim, device, config)
    base_model, base_opt = _fresh_model(grid.hidden_dim, device, config)
    generator = torch.Generator().manual_seed(0)
    contenders = {
        "project": lambda: train_epoch(
            project_model, project_opt, train, batch_size, generator, grid.trace_points_per_epoch
        ),
        "dataloader": lambda: dataloader_epoch(base_model, base_opt, loader, device),
        "matmuls": matmul_epoch(project_model, n, batch_size, device),
    }
    contenders["peak"], peak_flops = square_matmuls(config.matmul_size, config.matmul_count, device)
    warm_up = MNISTTensors(train.images[: 10 * batch_size], train.labels[: 10 * batch_size])
    train_epoch(project_model, project_opt, warm_up, batch_size, generator)
    seconds = fastest(interleaved(contenders, config.repeats, device))
    gflops = peak_flops / seconds.pop("peak") / 1e9
    flops = epoch_flops(project_model, n, batch_size)
    limit = flops / (gflops * 1e9)
    return {
        "train_size": n,
        "batch_size": batch_size,
        "hidden_dim": grid.hidden_dim,
        "optimizer": config.epoch_optimizer,
        "lr": config.epoch_lr,
        "matmul_size": config.matmul_size,
        "matmul_gflops": gflops,
        "flops_per_epoch": flops,
        "seconds": {**seconds, "limit": limit},
        "speedup_vs_dataloader": seconds["dataloader"] / seconds["project"],
        "ratio_to_limit": seconds["project"] / limit,
        "ratio_to_matmuls": seconds["project"] / seconds["matmuls"],
        "target_speedup_vs_dataloader": TARGET_SPEEDUP_VS_DATALOADER,
    }


# --------------------------------------------------------------------------------------------
# Optimizer steps


def torch_counterpart(name: str, params, hyper: dict, fused: bool | None) -> torch.optim.Optimizer:
    """The ``torch.optim`` optimizer computing the update of ``lib.optim.optimizers.<name>`` with
    its hyperparameters ``hyper`` (the hand-written optimizer's ``defaults``). ``AMSGrad`` maps to
    ``Adam(amsgrad=True)``, which keeps the maximum of the raw second moment: the same work, a
    different variant. RMSprop has no fused step: ``fused`` is ignored for it."""
    lr = hyper["lr"]
    if name == "SGD":
        return torch.optim.SGD(params, lr=lr, fused=fused)
    if name == "MomentumSGD":
        return torch.optim.SGD(params, lr=lr, momentum=hyper["rho"], fused=fused)
    if name == "RMSProp":
        return torch.optim.RMSprop(params, lr=lr, alpha=hyper["tau"], eps=hyper["delta"])
    if name == "Adagrad":
        return torch.optim.Adagrad(params, lr=lr, eps=hyper["delta"], fused=fused)
    if name in ("Adam", "AMSGrad"):
        return torch.optim.Adam(
            params,
            lr=lr,
            betas=(hyper["beta1"], hyper["beta2"]),
            eps=hyper["delta"],
            amsgrad=name == "AMSGrad",
            fused=fused,
        )
    raise ValueError(f"name must be one of {sorted(OPTIMIZER_CLASSES)}, got {name!r}")


def step_contenders(name: str) -> dict[str, dict]:
    """The contenders for optimizer ``name``: label → how to build it (``ours``: our class with
    these keyword arguments; ``torch``: torch's counterpart with this ``fused``)."""
    contenders = {"ours": {"ours": {}}, "torch": {"torch": None}}
    if OPTIMIZER_CLASSES[name].supports_fused:
        contenders["ours_fused"] = {"ours": {"fused": True}}
    if name != "RMSProp":
        contenders["torch_fused"] = {"torch": True}
    return contenders


def measure_optimizer(
    name: str, config: BenchmarkConfig, grid: OptimizerGridConfig, device: torch.device
) -> dict:
    """Fastest seconds per step of each contender for the optimizer ``name``, on the MNIST
    model's parameters carrying the same fixed gradients."""
    template = [p.detach().to(device) for p in make_mlp(grid.hidden_dim).parameters()]
    generator = torch.Generator().manual_seed(0)
    gradients = [torch.randn(p.shape, generator=generator).mul_(1e-2).to(device) for p in template]
    hyper = make_optimizer(name, [torch.zeros(1)], STEP_LR).defaults
    steppers = {}
    for label, how in step_contenders(name).items():
        params = [p.clone().requires_grad_(True) for p in template]
        for p, g in zip(params, gradients):
            p.grad = g.clone()
        optimizer = (
            make_optimizer(name, params, STEP_LR, **how["ours"])
            if "ours" in how
            else torch_counterpart(name, params, hyper, how["torch"])
        )
        for _ in range(3):  # creates the state, compiles a fused step, warms the kernels up
            optimizer.step()
        steppers[label] = lambda optimizer=optimizer: [
            optimizer.step() for _ in range(config.optimizer_steps)
        ]
    seconds = fastest(interleaved(steppers, config.repeats, device))
    per_step = {label: value / config.optimizer_steps for label, value in seconds.items()}
    ours = min(v for k, v in per_step.items() if k.startswith("ours"))
    theirs = min(v for k, v in per_step.items() if k.startswith("torch"))
    return {
        "optimizer": name,
        "parameters": sum(p.numel() for p in template),
        "tensors": len(template),
        "seconds_per_step": per_step,
        "ratio": ours / theirs,
        "target": TARGET_STEP_RATIO,
    }


def measure_optimizers(
    config: BenchmarkConfig, grid: OptimizerGridConfig, device: torch.device
) -> list[dict]:
    """:func:`measure_optimizer` for every optimizer of the grid."""
    return [measure_optimizer(name, config, grid, device) for name in grid.optimizers]


# --------------------------------------------------------------------------------------------
# The homework grid


def homework_grid_config(
    grid: OptimizerGridConfig, epochs: int | None = None
) -> OptimizerGridConfig:
    """The timed grid: the homework's four optimizers with ``grid``'s rates, seeds, sizes and
    epochs (``epochs`` instead, when given and fewer)."""
    return grid.replace(
        optimizers=HOMEWORK_OPTIMIZERS, epochs=min(epochs or grid.epochs, grid.epochs)
    )


def grid_flops(grid: OptimizerGridConfig, train_size: int, test_size: int) -> int:
    """Matmul FLOPs of every run of ``grid``: each epoch trains on ``train_size`` images and
    evaluates on ``test_size``."""
    model = make_mlp(grid.hidden_dim)
    per_epoch = epoch_flops(model, train_size, grid.batch_size) + evaluation_flops(model, test_size)
    runs = len(grid.optimizers) * len(grid.learning_rates) * len(grid.seeds)
    return runs * grid.epochs * per_epoch


def measure_grid(config: BenchmarkConfig, grid: OptimizerGridConfig, device: torch.device) -> dict:
    """Wall time of the homework grid trained from an empty results folder (worker start-up,
    MNIST loading, compiling and storing included) against its arithmetic limit: its FLOPs at
    the peak single-thread throughput measured just before, times the runs trained at once."""
    timed = homework_grid_config(grid, config.grid_epochs)
    run, flops = square_matmuls(config.matmul_size, config.matmul_count, device)
    run()
    gflops = flops / fastest(interleaved({"peak": run}, config.repeats, device))["peak"] / 1e9
    train_size = grid.train_size or len(load_mnist(train=True))
    test_size = grid.test_size or len(load_mnist(train=False))
    cores = min(timed.workers, os.cpu_count() or 1)
    limit = grid_flops(timed, train_size, test_size) / (gflops * 1e9 * cores)
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        results = run_grid(timed, root, progress=False)
        wall = time.perf_counter() - start
    training = sum(sum(result.epoch_time) for result in results)
    return {
        "optimizers": list(timed.optimizers),
        "runs": len(results),
        "epochs": timed.epochs,
        "full_epochs": grid.epochs,
        "workers": timed.workers,
        "cores": cores,
        "train_size": train_size,
        "test_size": test_size,
        "matmul_gflops": gflops,
        "wall_seconds": wall,
        "limit_seconds": limit,
        "ratio_to_limit": wall / limit,
        "training_seconds": training,
        "diverged": sum(result.diverged for result in results),
        "target_ratio_to_limit": TARGET_RATIO_TO_LIMIT,
    }


def _train_runs_in_threads(runs, train, test, grid, threads: int) -> list:
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda run: train_run(*run, train, test, grid), runs))


#: Runs trained at once by each layout of :func:`measure_parallelism`.
LAYOUT_CONCURRENCY = {"processes": 2, "torch_threads": 1, "python_threads": 2}


def project_layouts(
    wall: dict[str, list[float]],
    epoch: dict[str, list[float]],
    runs: int,
    epochs: int,
    grid_run_epochs: int,
) -> dict[str, dict[str, float]]:
    """Split each timing of each layout (``wall[name][i]``, with the mean epoch time
    ``epoch[name][i]`` measured inside its runs) into the epochs' share (``runs × epochs`` epochs,
    :data:`LAYOUT_CONCURRENCY` at a time) and a fixed rest (start-up, evaluation, storing), and
    estimate a grid of ``grid_run_epochs`` run-epochs as that rest plus its epochs at the same
    speed. Returns, per layout, the fixed cost and the estimate of its fastest timing, and the
    estimate's range over the timings (``grid_seconds_max``), the spread to rank layouts by."""
    layouts = {}
    for name, walls in wall.items():
        estimates = []
        for seconds, epoch_seconds in zip(walls, epoch[name], strict=True):
            per_run_epoch = epoch_seconds / LAYOUT_CONCURRENCY[name]
            fixed = max(seconds - runs * epochs * per_run_epoch, 0.0)
            estimates.append((fixed + grid_run_epochs * per_run_epoch, fixed))
        fastest_estimate = min(estimates)
        layouts[name] = {
            "fixed_seconds": fastest_estimate[1],
            "grid_seconds": fastest_estimate[0],
            "grid_seconds_max": max(estimates)[0],
        }
    return layouts


def tied_with_best(layouts: dict[str, dict[str, float]]) -> tuple[str, list[str]]:
    """The layout with the lowest estimate, and the others whose range of estimates reaches
    into the best one's (the gap between them does not exceed the timings' spread)."""
    best = min(layouts, key=lambda name: layouts[name]["grid_seconds"])
    ceiling = layouts[best]["grid_seconds_max"]
    tied = [
        name
        for name, layout in layouts.items()
        if name != best and layout["grid_seconds"] <= ceiling
    ]
    return best, tied


def measure_parallelism(
    config: BenchmarkConfig, grid: OptimizerGridConfig, device: torch.device
) -> dict:
    """Four one-epoch runs on the two cores, three ways: two single-threaded worker processes
    (:func:`run_grid`'s way), one process with two torch threads, two Python threads of one
    process with one torch thread each (torch releases the interpreter lock inside its kernels).
    Workers processes start afresh in each timing, as in a grid.

    Besides each layout's wall time, the epoch time measured inside its runs (while the other
    runs train beside them) separates the steady state from the fixed costs, so that the
    layouts can be compared on the book's grid (:func:`project_layouts`), whose long runs
    amortise a start-up that dominates one-epoch runs. Layouts whose estimates overlap over the
    repeated timings are reported as tied, not ranked (:func:`tied_with_best`)."""
    small = grid.replace(
        optimizers=(config.epoch_optimizer,),
        learning_rates=(config.epoch_lr,),
        seeds=(0, 1, 2, 3),
        epochs=1,
        workers=2,
    )
    runs = [(config.epoch_optimizer, config.epoch_lr, seed) for seed in small.seeds]
    train = load_mnist(train=True, size=small.train_size)
    test = load_mnist(train=False, size=small.test_size)
    epoch_times: dict[str, list[float]] = {name: [] for name in LAYOUT_CONCURRENCY}

    def record(name: str, results) -> None:
        times = [seconds for result in results for seconds in result.epoch_time]
        epoch_times[name].append(sum(times) / len(times))

    def processes() -> None:
        with tempfile.TemporaryDirectory() as root:
            record("processes", run_grid(small, root, progress=False))

    def torch_threads() -> None:
        with cpu_threads(2):
            record("torch_threads", [train_run(*run, train, test, small) for run in runs])

    def python_threads() -> None:
        with cpu_threads(1):
            record("python_threads", _train_runs_in_threads(runs, train, test, small, 2))

    contenders = {
        "processes": processes,
        "torch_threads": torch_threads,
        "python_threads": python_threads,
    }
    walls = interleaved(contenders, min(config.repeats, 3), device)
    book = homework_grid_config(grid)
    grid_run_epochs = len(grid_runs(book)) * book.epochs
    layouts = project_layouts(walls, epoch_times, len(runs), small.epochs, grid_run_epochs)
    best, tied = tied_with_best(layouts)
    return {
        "runs": len(runs),
        "epochs": small.epochs,
        "repeats": len(walls[best]),
        "seconds": fastest(walls),
        "epoch_seconds": {name: min(values) for name, values in epoch_times.items()},
        "concurrency": LAYOUT_CONCURRENCY,
        "fixed_seconds": {name: layout["fixed_seconds"] for name, layout in layouts.items()},
        "grid_run_epochs": grid_run_epochs,
        "grid_seconds": {name: layout["grid_seconds"] for name, layout in layouts.items()},
        "grid_seconds_max": {name: layout["grid_seconds_max"] for name, layout in layouts.items()},
        "best": best,
        "tied": tied,
        "ratio_to_best": {
            name: layout["grid_seconds"] / layouts[best]["grid_seconds"]
            for name, layout in layouts.items()
        },
    }


# --------------------------------------------------------------------------------------------
# All of them


def run_benchmarks(
    profile: str | None = None, sections=SECTIONS, progress: bool = True, **overrides
) -> dict:
    """Measure ``sections`` (names from :data:`SECTIONS`) with the sizes of ``profile``'s
    :class:`BenchmarkConfig`, changed by ``overrides`` (its field names); return the results
    (without wall times)."""
    unknown = [name for name in sections if name not in SECTIONS]
    if unknown:
        raise ValueError(f"sections must be names from {SECTIONS}, got {unknown}")
    profile = active_profile(profile)
    config = BenchmarkConfig.for_profile(profile, **overrides)
    grid = OptimizerGridConfig.for_profile(profile)
    device = training_device()
    measures = {
        "mnist_epoch": lambda: measure_epoch(config, grid, device),
        "optimizer_step": lambda: measure_optimizers(config, grid, device),
        "homework_grid": lambda: measure_grid(config, grid, device),
        "parallelism": lambda: measure_parallelism(config, grid, device),
        "gan": lambda: measure_gans(config),
    }
    results = {
        "profile": profile,
        "config": config.__dict__ | {"gan_iterations": list(config.gan_iterations)},
        "environment": describe(device, config.threads),
        "created": _now(),
        "measured_at": {},
    }
    with cpu_threads(config.threads):  # as the optimizer grid trains
        for name in tqdm(sections, desc="benchmarks", unit="section", disable=not progress):
            results["measured_at"][name] = _now()
            results[name] = measures[name]()
    return results


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
