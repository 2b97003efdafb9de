"""Timing helpers: contenders timed in alternation, and the float32 matmul throughput."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

import torch


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


def interleaved(contenders: Mapping[str, Callable[[], object]], repeats: int,
                device: torch.device) -> dict[str, list[float]]:
    """Time every contender ``repeats`` times, in turn (A B C A B C ...), so that a slow spell of
    the machine hits all of them alike. Returns each contender's list of seconds."""
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats <= 0:
        raise ValueError(f"repeats must be a positive integer, got {repeats!r}")
    if not contenders:
        raise ValueError("contenders must name at least one function to time, got none")
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            seconds[name].append(time_call(fn, device))
    return seconds


def medians(seconds: Mapping[str, list[float]]) -> dict[str, float]:
    """The median of each contender's timings."""
    return {name: statistics.median(values) for name, values in seconds.items()}


def matmul_gflops(size: int, device: torch.device, repeats: int = 10) -> float:
    """Peak float32 matmul throughput in GFLOP/s: the best of ``repeats`` timed ``size × size``
    products (``2 size³`` FLOPs each), after one untimed warm-up product."""
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device)
    b = torch.randn(size, size, generator=generator).to(device)
    out = torch.empty(size, size, device=device)
    torch.mm(a, b, out=out)
    best = min(time_call(lambda: torch.mm(a, b, out=out), device) for _ in range(repeats))
    return 2 * size**3 / best / 1e9
