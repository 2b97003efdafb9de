"""What every measurement needs: clocks, alternating timings, FLOP counts and the machine.

* Timing: :func:`interleaved` times contenders in alternation (A B C A B C ...), so that a slow
  spell of a shared machine hits all of them alike, and :func:`fastest` keeps each one's least
  disturbed time; :func:`square_matmuls` measures the peak float32 matmul throughput.
* Arithmetic: a linear layer ``in → out`` applied to a minibatch of ``B`` examples costs three
  matrix products per training step, each of ``2 · B · in · out`` floating-point operations:
  forward ``X W^T``, the weight gradient ``G^T X`` and the input gradient ``G W`` (not computed
  for the first layer, whose input needs no gradient); an evaluation costs the forward product
  only. Biases, activations and the loss cost ``O(B · width)`` and are left out: for the MNIST
  model they are below 0.5 % of the total.
* The machine: :func:`describe` records what a reader needs to compare two result files.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from lib.validation import check_int

# --------------------------------------------------------------------------------------------
# Timing


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (GPU kernels run asynchronously; a CPU needs nothing)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds of wall time one call of ``fn`` takes, device work included."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def interleaved(
    contenders: Mapping[str, Callable[[], object]], repeats: int, device: torch.device
) -> dict[str, list[float]]:
    """Time every contender ``repeats`` times, in turn (A B C A B C ...). Returns each
    contender's list of seconds."""
    check_int("repeats", repeats, minimum=1)
    if not contenders:
        raise ValueError("contenders must name at least one function to time, got none")
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            seconds[name].append(time_call(fn, device))
    return seconds


def fastest(seconds: Mapping[str, list[float]]) -> dict[str, float]:
    """Each contender's fastest timing. Other processes on the machine can only add time to a
    run, never remove it, so the minimum is the least disturbed estimate (``timeit``'s advice)."""
    return {name: min(values) for name, values in seconds.items()}


def square_matmuls(size: int, count: int, device: torch.device) -> tuple[Callable[[], None], int]:
    """A function computing ``count`` float32 products of two ``size × size`` matrices, and the
    FLOPs it performs (``2 size³`` per product): timed, it measures the peak matmul throughput."""
    check_int("size", size, minimum=1)
    check_int("count", count, minimum=1)
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device)
    b = torch.randn(size, size, generator=generator).to(device)
    out = torch.empty(size, size, device=device)

    def run() -> None:
        for _ in range(count):
            torch.mm(a, b, out=out)

    return run, 2 * size**3 * count


# --------------------------------------------------------------------------------------------
# Arithmetic


@dataclass(frozen=True)
class Matmul:
    """One matrix product ``(m × k) @ (k × n)``; a ``*_transposed`` operand is stored as the
    transpose of a contiguous matrix, the layout autograd hands to the matmul kernel."""

    m: int
    k: int
    n: int
    a_transposed: bool = False
    b_transposed: bool = False

    @property
    def flops(self) -> int:
        return 2 * self.m * self.k * self.n


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The model's ``nn.Linear`` layers in the order they are applied (module order)."""
    layers = [module for module in model.modules() if isinstance(module, nn.Linear)]
    if not layers:
        raise ValueError(
            f"model must contain nn.Linear layers, got {type(model).__name__} with none"
        )
    return layers


def training_matmuls(model: nn.Module, batch_size: int) -> list[Matmul]:
    """Every matrix product of one training step (forward and backward) on ``batch_size``
    examples, in the order: forward of each layer, then the backward products last to first."""
    check_int("batch_size", batch_size, minimum=1)
    layers = linear_layers(model)
    forward = [
        Matmul(batch_size, layer.in_features, layer.out_features, b_transposed=True)
        for layer in layers
    ]  # X @ W^T
    backward = []
    for index in reversed(range(len(layers))):
        d_in, d_out = layers[index].in_features, layers[index].out_features
        backward.append(Matmul(d_out, batch_size, d_in, a_transposed=True))  # G^T @ X
        if index > 0:
            backward.append(Matmul(batch_size, d_out, d_in))  # G @ W, for the layer below
    return forward + backward


def training_flops(model: nn.Module, batch_size: int) -> int:
    """Matmul FLOPs of one training step on ``batch_size`` examples."""
    return sum(product.flops for product in training_matmuls(model, batch_size))


def evaluation_flops(model: nn.Module, n_examples: int) -> int:
    """Matmul FLOPs of one forward pass over ``n_examples`` (an evaluation)."""
    check_int("n_examples", n_examples, minimum=1)
    return sum(
        2 * n_examples * layer.in_features * layer.out_features for layer in linear_layers(model)
    )


def epoch_batches(n_examples: int, batch_size: int) -> list[int]:
    """Minibatch sizes of one epoch: full batches, then the remainder if any."""
    check_int("n_examples", n_examples, minimum=1)
    check_int("batch_size", batch_size, minimum=1)
    full, rest = divmod(n_examples, batch_size)
    return [batch_size] * full + ([rest] if rest else [])


def epoch_flops(model: nn.Module, n_examples: int, batch_size: int) -> int:
    """Matmul FLOPs of one training epoch over ``n_examples`` in minibatches of ``batch_size``."""
    return sum(training_flops(model, size) for size in epoch_batches(n_examples, batch_size))


# --------------------------------------------------------------------------------------------
# The machine


def cpu_model() -> str:
    """The CPU's model name as Linux reports it (``platform.processor()`` elsewhere)."""
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe(device: torch.device, threads: int) -> dict:
    """The facts a reader needs to compare two result files."""
    return {
        "device": str(device),
        "device_name": (
            torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
        ),
        "cuda_available": torch.cuda.is_available(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
