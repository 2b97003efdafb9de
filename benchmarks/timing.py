"""Timing helpers: contenders timed in alternation, and the float32 matmul throughput."""

from __future__ import annotations

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


def fastest(seconds: Mapping[str, list[float]]) -> dict[str, float]:
    """Each contender's fastest timing. Other processes on the machine can only add time to a
    run, never remove it, so the minimum is the least disturbed estimate (``timeit``'s advice)."""
    return {name: min(values) for name, values in seconds.items()}


def square_matmuls(size: int, count: int, device: torch.device) -> tuple[Callable[[], None], int]:
    """A function computing ``count`` float32 products of two ``size × size`` matrices, and the
    FLOPs it performs (``2 size³`` per product): timed, it measures the peak matmul throughput."""
    for name, value in (("size", size), ("count", count)):
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(device)
    b = torch.randn(size, size, generator=generator).to(device)
    out = torch.empty(size, size, device=device)

    def run() -> None:
        for _ in range(count):
            torch.mm(a, b, out=out)

    return run, 2 * size**3 * count
