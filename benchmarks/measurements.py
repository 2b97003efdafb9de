"""The measurements of ``python -m benchmarks``: each a ratio of timings taken in one run.

* :func:`measure_epoch` — one MNIST epoch of the project's loop (:func:`lib.mnist.training.
  train_epoch`) against the course's base-code loop (``DataLoader`` + ``ToTensor``) and against
  the arithmetic limit (its FLOPs at the measured peak matmul throughput);
* :func:`measure_optimizers` — one step of each hand-written optimizer, plain and fused, against
  ``torch.optim``'s counterpart, default and fused (where torch has a fused step);
* :func:`measure_grid` — the homework's grid (SGD, momentum, RMSProp, AMSGrad × its learning
  rates × its seeds), trained by :func:`lib.mnist.grid.run_grid` from an empty cache, against
  its arithmetic limit on the cores it uses, the peak measured just before, and where its time
  went (:func:`step_parts` times a step's parts alone);
* :func:`measure_chapters` — each notebook of the book executed from an empty cache, timed;
* the WGAN's iterations per second, separate against stacked (:mod:`benchmarks.gan_iterations`).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import import_module

import torch
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader, Subset
from tqdm import tqdm

from benchmarks.timing import (
    describe,
    epoch_flops,
    evaluation_flops,
    fastest,
    interleaved,
    square_matmuls,
    step_products,
)
from lib.config import BenchmarkConfig, OptimizerGridConfig, active_profile, data_root, repo_root
from lib.mnist.data import IMAGE_PIXELS, MNISTTensors, load_mnist
from lib.mnist.grid import run_grid
from lib.mnist.training import FUSED_MIN_STEPS, make_mlp, make_optimizer, train_epoch
from lib.optim.optimizers import OPTIMIZER_CLASSES
from lib.runtime import cpu_threads, seed_everything, training_device

SECTIONS = ("mnist_epoch", "optimizer_step", "homework_grid", "gan", "chapters")
#: The notebooks whose execution from an empty cache is timed (book/<name>.ipynb): every one but
#: this appendix, which only reads the benchmarks' results.
CHAPTERS = ("minimax", "gan", "optimizers", "minimax_beyond", "gan_beyond")
#: The targets: an epoch at least this many times faster than the DataLoader loop, the
#: grid at most this many times its arithmetic limit, an optimizer step at most this many times
#: torch's fastest counterpart.
TARGET_SPEEDUP_VS_DATALOADER = 5.0
TARGET_RATIO_TO_LIMIT = 1.5
TARGET_STEP_RATIO = 1.3
#: The homework's four optimizers (§2), the grid whose time is measured.
HOMEWORK_OPTIMIZERS = ("SGD", "MomentumSGD", "RMSProp", "AMSGrad")
STEP_LR = 1e-3  # small enough that thousands of steps on fixed gradients stay finite
PART_BATCHES = 100  # minibatches of the epoch slice that times a whole training step alone


# One epoch ----------------------------------------------------------------------------------------


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
        "target_speedup_vs_dataloader": TARGET_SPEEDUP_VS_DATALOADER,
    }


# Optimizer steps ----------------------------------------------------------------------------------


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
    raise KeyError(name)


def measure_optimizer(
    name: str, config: BenchmarkConfig, grid: OptimizerGridConfig, device: torch.device
) -> dict:
    """Fastest seconds per step of each contender for the optimizer ``name``, on the MNIST
    model's parameters carrying the same fixed gradients."""
    template = [p.detach().to(device) for p in make_mlp(grid.hidden_dim).parameters()]
    generator = torch.Generator().manual_seed(0)
    gradients = [torch.randn(p.shape, generator=generator).mul_(1e-2).to(device) for p in template]
    hyper = make_optimizer(name, [torch.zeros(1)], STEP_LR).defaults
    builders = {  # label → the optimizer over given parameters
        "ours": lambda params: make_optimizer(name, params, STEP_LR),
        "torch": lambda params: torch_counterpart(name, params, hyper, None),
    }
    if OPTIMIZER_CLASSES[name].supports_fused:
        builders["ours_fused"] = lambda params: make_optimizer(name, params, STEP_LR, fused=True)
    if name != "RMSProp":  # torch's RMSprop has no fused step
        builders["torch_fused"] = lambda params: torch_counterpart(name, params, hyper, True)
    steppers = {}
    for label, build in builders.items():
        params = [p.clone().requires_grad_(True) for p in template]
        for p, g in zip(params, gradients):
            p.grad = g.clone()
        optimizer = build(params)
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


# The homework grid --------------------------------------------------------------------------------


def homework_grid_config(grid: OptimizerGridConfig, epochs=None) -> OptimizerGridConfig:
    """The timed grid: the homework's four optimizers with ``grid``'s rates, seeds, sizes and
    epochs (``epochs`` instead, when given and fewer)."""
    epochs = min(epochs or grid.epochs, grid.epochs)
    return grid.replace(optimizers=HOMEWORK_OPTIMIZERS, epochs=epochs)


def grid_flops(grid: OptimizerGridConfig, train_size: int, test_size: int) -> int:
    """Matmul FLOPs of every run of ``grid``: each epoch trains on ``train_size`` images and
    evaluates on ``test_size``."""
    model = make_mlp(grid.hidden_dim)
    per_epoch = epoch_flops(model, train_size, grid.batch_size) + evaluation_flops(model, test_size)
    runs = len(grid.optimizers) * len(grid.learning_rates) * len(grid.seeds)
    return runs * grid.epochs * per_epoch


def step_parts(timed: OptimizerGridConfig, train: MNISTTensors, config, device) -> dict:
    """Seconds per minibatch of the parts of a grid run's training step, each timed alone here:
    the whole step of each optimizer (:func:`train_epoch` over :data:`PART_BATCHES` minibatches),
    its optimizer step alone (fused where the grid's runs are, on fixed gradients), and the
    step's matrix products alone at the model's shapes (:func:`step_products`)."""
    steps = timed.epochs * math.ceil(len(train) / timed.batch_size)
    n, batch = PART_BATCHES * timed.batch_size, timed.batch_size
    part = MNISTTensors(train.images[:n], train.labels[:n]).to(device)
    generator = torch.Generator().manual_seed(0)
    contenders = {
        "products": step_products(make_mlp(timed.hidden_dim), batch, PART_BATCHES, device)
    }
    for name in timed.optimizers:
        fused = OPTIMIZER_CLASSES[name].supports_fused and steps >= FUSED_MIN_STEPS
        kwargs = {"fused": True} if fused else {}
        model = make_mlp(timed.hidden_dim).to(device)
        opt = make_optimizer(name, model.parameters(), STEP_LR, **kwargs)
        contenders[name] = lambda m=model, o=opt: train_epoch(m, o, part, batch, generator)
        fixed = make_mlp(timed.hidden_dim).to(device)
        for p in fixed.parameters():
            p.grad = torch.randn(p.shape, generator=generator).mul_(1e-2).to(device)
        stepper = make_optimizer(name, fixed.parameters(), STEP_LR, **kwargs)
        contenders[f"{name} optimizer"] = lambda o=stepper: [o.step() for _ in range(PART_BATCHES)]
    for fn in contenders.values():  # creates the states, compiles the fused steps
        fn()
    seconds = fastest(interleaved(contenders, config.repeats, device))
    per_batch = {k: v / PART_BATCHES for k, v in seconds.items()}
    parts = {"steps_per_run": steps, "products": per_batch["products"]}
    for name in timed.optimizers:
        parts[name] = {"step": per_batch[name], "optimizer": per_batch[f"{name} optimizer"]}
    return parts


def measure_grid(config: BenchmarkConfig, grid: OptimizerGridConfig, device: torch.device) -> dict:
    """Wall time of the homework grid trained from an empty results folder (worker start-up,
    MNIST loading, compiling and storing included) against its arithmetic limit: its FLOPs at
    the peak single-thread throughput measured just before, times the runs trained at once.

    ``breakdown`` splits the wall time (per core) into the parts of the runs' training steps,
    timed alone (:func:`step_parts`) and multiplied by the minibatches the runs trained: the
    matrix products at the model's shapes, the optimizer steps and the rest of the step; then
    what the runs lost by training side by side (their recorded training time beyond those
    parts), and the time outside the training epochs (evaluating, starting the workers,
    compiling, storing, and a worker idle at the end)."""
    timed = homework_grid_config(grid, config.grid_epochs)
    run, flops = square_matmuls(config.matmul_size, config.matmul_count, device)
    run()
    gflops = flops / fastest(interleaved({"peak": run}, config.repeats, device))["peak"] / 1e9
    train = load_mnist(train=True, size=grid.train_size)
    test_size = grid.test_size or len(load_mnist(train=False))
    cores = min(timed.workers, os.cpu_count() or 1)
    limit = grid_flops(timed, len(train), test_size) / (gflops * 1e9 * cores)
    parts = step_parts(timed, train, config, device)
    with tempfile.TemporaryDirectory() as root:
        start = time.perf_counter()
        results = run_grid(timed, root, progress=False)
        wall = time.perf_counter() - start
    training = sum(sum(result.epoch_time) for result in results)
    per_epoch = math.ceil(len(train) / timed.batch_size)
    batches = {name: 0 for name in timed.optimizers}  # minibatches trained, over the epochs kept
    for result in results:
        batches[result.optimizer] += len(result.epoch_time) * per_epoch
    step = sum(batches[name] * parts[name]["step"] for name in batches) / cores
    products = sum(batches.values()) * parts["products"] / cores
    optimizer = sum(batches[name] * parts[name]["optimizer"] for name in batches) / cores
    return {
        "optimizers": list(timed.optimizers),
        "runs": len(results),
        "epochs": timed.epochs,
        "full_epochs": grid.epochs,
        "workers": timed.workers,
        "cores": cores,
        "train_size": len(train),
        "test_size": test_size,
        "matmul_gflops": gflops,
        "wall_seconds": wall,
        "limit_seconds": limit,
        "ratio_to_limit": wall / limit,
        "training_seconds": training,
        "diverged": sum(result.diverged for result in results),
        "target_ratio_to_limit": TARGET_RATIO_TO_LIMIT,
        "step_parts": parts,
        "breakdown": {
            "matrix products": products,
            "optimizer steps": optimizer,
            "rest of the step": step - products - optimizer,
            "side by side": training / cores - step,
            "outside the epochs": wall - training / cores,
        },
    }


def measure_chapters(profile: str) -> dict[str, float]:
    """Seconds to execute each notebook of :data:`CHAPTERS` in ``profile``, from an
    empty cache (a temporary ``RESULTS_DIR``), as a book build does on a clean clone."""
    seconds = {}
    for name in CHAPTERS:
        with tempfile.TemporaryDirectory() as results:
            env = {**os.environ, "RESULTS_DIR": results, "BOOK_PROFILE": profile}
            command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook"]
            command += ["--execute", "--ExecutePreprocessor.timeout=7200", "--stdout"]
            start = time.perf_counter()
            subprocess.run(
                [*command, str(repo_root() / "book" / f"{name}.ipynb")],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            seconds[name] = time.perf_counter() - start
    return seconds


# All of them --------------------------------------------------------------------------------------


def run_benchmarks(
    profile: str | None = None, sections=SECTIONS, progress: bool = True, **overrides
) -> dict:
    """Measure ``sections`` (names from :data:`SECTIONS`) with the sizes of ``profile``'s
    :class:`BenchmarkConfig`, changed by ``overrides`` (its field names); return the results."""
    profile = active_profile(profile)
    config = BenchmarkConfig.for_profile(profile, **overrides)
    grid = OptimizerGridConfig.for_profile(profile)
    device = training_device()
    measures = {
        "mnist_epoch": lambda: measure_epoch(config, grid, device),
        "optimizer_step": lambda: measure_optimizers(config, grid, device),
        "homework_grid": lambda: measure_grid(config, grid, device),
        # the GAN code is imported only when asked
        "gan": lambda: import_module("benchmarks.gan_iterations").measure_gans(config),
        "chapters": lambda: measure_chapters(profile),
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
