"""MNIST epoch time: the project's training loop against the base code's loop and the limit.

The contenders, timed in alternation:

* ``project``: :func:`lib.mnist.training.train_epoch` on the images held as one tensor;
* ``dataloader``: the course's base-code loop, ``torch.utils.data.DataLoader`` (batch 100,
  shuffled) over ``torchvision.datasets.MNIST`` with the ``ToTensor`` transform, same model and
  optimizer, same bookkeeping (loss and accuracy);
* ``gather_index`` and ``gather_index_select``: only the epoch's minibatch gathers, written
  ``images[index]`` and ``images.index_select(0, index)``;
* ``matmuls``: only the epoch's matrix products (:func:`benchmarks.flops.training_matmuls`), on
  preallocated matrices of the same shapes and memory layouts as autograd's: what the arithmetic
  costs at these shapes.

The arithmetic limit is the epoch's FLOPs divided by the peak float32 matmul throughput, measured
as one more contender in the same rounds (:func:`benchmarks.timing.square_matmuls`), so that it
sees the same machine load as the loops.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision
from torch.utils.data import DataLoader, Subset

from benchmarks.flops import epoch_batches, epoch_flops, training_matmuls
from benchmarks.timing import fastest, interleaved, square_matmuls
from lib.config import BenchmarkConfig, OptimizerGridConfig, data_root
from lib.mnist.data import IMAGE_PIXELS, MNISTTensors, load_mnist
from lib.mnist.training import make_mlp, make_optimizer, train_epoch
from lib.runtime import seed_everything

#: The issue's targets: at least this many times faster than the DataLoader loop ...
TARGET_SPEEDUP_VS_DATALOADER = 5.0
#: ... and at most this many times the arithmetic limit.
TARGET_RATIO_TO_LIMIT = 1.3

def base_code_loader(train_size: int | None, batch_size: int) -> DataLoader:
    """The base code's data pipeline: PIL images turned into tensors one by one by ToTensor."""
    dataset = torchvision.datasets.MNIST(root=str(data_root()), train=True, download=True,
                                         transform=torchvision.transforms.ToTensor())
    if train_size is not None:
        dataset = Subset(dataset, range(train_size))
    return DataLoader(dataset, batch_size=batch_size, shuffle=True)

def dataloader_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                     loader: DataLoader, device: torch.device) -> tuple[float, float]:
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


def matmul_epoch(model: torch.nn.Module, n_examples: int, batch_size: int,
                 device: torch.device):
    """A function that performs exactly the epoch's matrix products and nothing else."""
    plans = {}
    for size in set(epoch_batches(n_examples, batch_size)):
        plans[size] = [(_operand(p.m, p.k, p.a_transposed, device),
                        _operand(p.k, p.n, p.b_transposed, device),
                        torch.empty(p.m, p.n, device=device))
                       for p in training_matmuls(model, size)]
    batches = epoch_batches(n_examples, batch_size)

    def run() -> None:
        for size in batches:
            for a, b, out in plans[size]:
                torch.mm(a, b, out=out)

    return run

def _fresh_model(seed: int, hidden_dim: int, device: torch.device, config: BenchmarkConfig):
    seed_everything(seed)
    model = make_mlp(hidden_dim).to(device)
    return model, make_optimizer(config.epoch_optimizer, model.parameters(), config.epoch_lr)

def measure_epoch(config: BenchmarkConfig, grid: OptimizerGridConfig,
                  device: torch.device) -> dict:
    """Time one epoch of each contender ``config.repeats`` times; return the fastest times and ratios."""
    train = load_mnist(train=True, size=config.epoch_train_size)
    data = MNISTTensors(train.images.to(device), train.labels.to(device))
    n, batch_size = len(data), grid.batch_size
    loader = base_code_loader(config.epoch_train_size, batch_size)
    project_model, project_opt = _fresh_model(0, grid.hidden_dim, device, config)
    base_model, base_opt = _fresh_model(0, grid.hidden_dim, device, config)
    generator = torch.Generator().manual_seed(0)
    contenders = {
        "project": lambda: train_epoch(project_model, project_opt, data, batch_size, generator,
                                       grid.trace_points_per_epoch),
        "dataloader": lambda: dataloader_epoch(base_model, base_opt, loader, device),
        "matmuls": matmul_epoch(project_model, n, batch_size, device),
    }
    index_batches = torch.randperm(n, generator=torch.Generator().manual_seed(1)).to(device)
    index_batches = index_batches.split(batch_size)
    contenders["gather_index"] = lambda: [data.images[index] for index in index_batches]
    contenders["gather_index_select"] = lambda: [data.images.index_select(0, index)
                                                 for index in index_batches]
    contenders["peak"], peak_flops = square_matmuls(config.matmul_size, config.matmul_count,
                                                    device)
    warm_up = MNISTTensors(data.images[:10 * batch_size], data.labels[:10 * batch_size])
    train_epoch(project_model, project_opt, warm_up, batch_size, generator)
    contenders["matmuls"]()
    contenders["peak"]()
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
        "repeats": config.repeats,
        "matmul_size": config.matmul_size,
        "matmul_count": config.matmul_count,
        "matmul_gflops": gflops,
        "flops_per_epoch": flops,
        "seconds": {**seconds, "limit": limit},
        "speedup_vs_dataloader": seconds["dataloader"] / seconds["project"],
        "ratio_to_limit": seconds["project"] / limit,
        "ratio_to_matmuls": seconds["project"] / seconds["matmuls"],
        "matmul_gflops_at_model_shapes": flops / seconds["matmuls"] / 1e9,
        "targets": {"speedup_vs_dataloader": TARGET_SPEEDUP_VS_DATALOADER,
                    "ratio_to_limit": TARGET_RATIO_TO_LIMIT},
    }
