"""What every measurement needs: alternating timings, FLOP counts and the machine's description.

* Timing: :func:`interleaved` times contenders in alternation (A B C A B C ...), so that a slow
  spell of a shared machine hits all of them alike, and :func:`fastest` keeps each one's least
  disturbed time; :func:`square_matmuls` measures the peak float32 matmul throughput.
* Arithmetic: the matrix products of a training step or an evaluation (and
  :func:`step_products`, a step's products alone, to time them), counted by torch's
  :class:`~torch.utils.flop_counter.FlopCounterMode` (biases, activations and the loss are not
  counted: for the MNIST model they are below 0.5 % of the total).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def time_call(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds of wall time one call of ``fn`` takes, device work included."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def interleaved(
    contenders: Mapping[str, Callable[[], object]], repeats: int, device: torch.device
) -> dict[str, list[float]]:
    """Each contender's seconds over ``repeats`` rounds, timed in turn (A B C A B C ...)."""
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
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device)
    b = torch.randn(size, size, generator=generator).to(device)
    out = torch.empty(size, size, device=device)

    def run() -> None:
        for _ in range(count):
            torch.mm(a, b, out=out)

    return run, 2 * size**3 * count


def training_flops(model: nn.Module, batch_size: int) -> int:
    """Matmul FLOPs of one training step (forward and backward) on ``batch_size`` examples."""
    x = torch.zeros(batch_size, model[0].in_features)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), torch.zeros(batch_size, dtype=torch.long)).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def step_products(
    model: nn.Module, batch_size: int, steps: int, device: torch.device
) -> Callable[[], None]:
    """A function computing the matrix products of ``steps`` training steps of the MLP ``model``
    on ``batch_size`` examples, alone (random operands of the right shapes, nothing else): per
    linear layer the forward product, the weight gradient and, except for the first layer, the
    input gradient."""
    generator = torch.Generator().manual_seed(0)

    def draw(*shape: int) -> torch.Tensor:
        return torch.randn(shape, generator=generator).to(device)

    operands = [
        (
            draw(batch_size, m.in_features),
            draw(m.out_features, m.in_features),
            draw(batch_size, m.out_features),
        )
        for m in model
        if isinstance(m, nn.Linear)
    ]

    def run() -> None:
        for _ in range(steps):
            for index, (x, weight, grad_out) in enumerate(operands):
                torch.mm(x, weight.t())
                torch.mm(grad_out.t(), x)
                if index:
                    torch.mm(grad_out, weight)

    return run


def evaluation_flops(model: nn.Module, n_examples: int) -> int:
    """Matmul FLOPs of one forward pass over ``n_examples`` (an evaluation)."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.zeros(n_examples, model[0].in_features))
    return counter.get_total_flops()


def epoch_flops(model: nn.Module, n_examples: int, batch_size: int) -> int:
    """Matmul FLOPs of one training epoch over ``n_examples`` (they grow linearly with the
    batch, so a partial last batch costs its share)."""
    return training_flops(model, batch_size) * n_examples // batch_size


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
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    return {
        "device": str(device),
        "device_name": name,
        "cpu_cores": os.cpu_count(),
        "torch_threads": threads,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
