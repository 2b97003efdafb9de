"""Where and how the experiments run: device, seeding, CPU threads, subnormals, worker processes.

One home for everything that decides the execution environment of a training run:

* :func:`training_device` — the first CUDA GPU when there is one, else the CPU; ``$BOOK_DEVICE``
  overrides the choice (``cpu``, ``cuda`` or ``cuda:N``);
* :func:`seed_everything` — one call seeds Python, NumPy and torch;
* :func:`cpu_threads` — a block with a given number of torch threads and subnormal floats flushed;
* :func:`parallel_map` — independent jobs in a few single-threaded worker processes.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")
R = TypeVar("R")


def training_device() -> torch.device:
    """The device for training: ``$BOOK_DEVICE`` if set, else CUDA when available, else CPU."""
    name = os.environ.get("BOOK_DEVICE", "").strip().lower()
    if not name:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"BOOK_DEVICE must be 'cpu', 'cuda' or 'cuda:N', got {name!r}") from error
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"BOOK_DEVICE must be 'cpu', 'cuda' or 'cuda:N', got {name!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"BOOK_DEVICE is {name!r} but no CUDA device is available")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and, if present, every GPU) with ``seed``."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _configure_process(threads: int) -> None:
    """Thread count and subnormal flushing of a training process (see :func:`cpu_threads`)."""
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)


def _exit_with_parent(parent: int) -> None:
    """In a worker: exit at once when the process that started it is gone (killed, not only
    stopped), instead of training on for nobody."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _start_worker(threads: int, parent: int) -> None:
    _configure_process(threads)
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


@contextmanager
def cpu_threads(threads: int = 1) -> Iterator[None]:
    """Run the block with ``threads`` intra-op torch threads and subnormal floats flushed to zero.

    One thread per process is fastest for the book's small networks: their matrices are too small
    to split well, and when other processes share the cores, threads that wait for each other
    cost far more than they gain; parallelism comes from running several runs at once instead.
    Flushing subnormals matters for runs that failed: once a weight stops receiving gradient,
    momentum and second-moment buffers decay geometrically into the subnormal range, where x86
    arithmetic is many times slower. Values below 1.2e-38 become 0.

    Afterwards the thread count is restored, and flushing is switched off (torch's default) when
    the outermost such block ends: torch offers no way to read the previous setting, so the
    nesting is counted here, and a block inside another leaves the outer one flushing.
    """
    previous = torch.get_num_threads()
    _configure_process(threads)
    _flushing_blocks[0] += 1
    try:
        yield
    finally:
        torch.set_num_threads(previous)
        _flushing_blocks[0] -= 1
        if not _flushing_blocks[0]:
            torch.set_flush_denormal(False)


#: How many :func:`cpu_threads` blocks this process is inside (one counter per process).
_flushing_blocks = [0]


def parallel_map(
    function: Callable[[T], R], jobs: Iterable[T], workers: int
) -> Iterator[tuple[int, R]]:
    """Yield ``(index, function(job))`` for every job, as each finishes.

    With ``workers == 1`` the jobs run here, in order, inside :func:`cpu_threads`; otherwise in
    ``workers`` fresh single-threaded processes ("spawn": forking a process that holds torch's
    thread pool is unsafe). ``function`` must be importable (a module-level function). Jobs not
    started when the caller stops iterating are cancelled, and the workers exit when this
    process dies.
    """
    jobs = list(jobs)
    if workers == 1 or len(jobs) <= 1:
        with cpu_threads(1):
            for index, job in enumerate(jobs):
                yield index, function(job)
        return
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(jobs)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(1, os.getpid()),
    )
    try:
        futures = {pool.submit(function, job): index for index, job in enumerate(jobs)}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
