"""WGAN training speed: iterations per second per run, alone against stacked, per method.

One trainer, :func:`lib.gan.training.train_stack`, trains the homework's configuration
(:class:`lib.gan.config.GANConfig` defaults) as a stack of one run (what
:func:`~lib.gan.training.train_wgan` does) and as stacks of R seeds, for every Lipschitz method;
a stack's rate per run is R × its iterations per second.

Each stack runs two lengths, ``n1 < n2`` critic iterations, with no snapshot but the first and
the last. The trainer's own clock (``History.seconds``) then reads ``t(n) = s + n / r``: the
difference of the two runs gives the iteration rate ``r`` free of the snapshots' cost ``s``.
These timings evaluate their snapshots on :data:`RATE_EVAL_SAMPLES` samples; the cost of one
snapshot at the homework's size is timed apart, from single runs of ``n1`` iterations.
"""

from __future__ import annotations

from lib.config import BenchmarkConfig
from lib.gan.config import LIPSCHITZ_METHODS, GANConfig
from lib.gan.training import train_stack
from lib.runtime import cpu_threads

STACK_SIZES = (1, 3, 15)  # runs per stack measured (1: a run alone)
RATE_EVAL_SAMPLES = 100  # samples per snapshot in the timings that measure iteration rates


def measure_gan(
    lipschitz: str, config: BenchmarkConfig, stack_sizes: tuple[int, ...] = STACK_SIZES
) -> dict:
    """Iteration rates per run for each stack size, and the snapshot cost, of one method."""
    homework = GANConfig(lipschitz=lipschitz, num_threads=config.threads)
    eval_samples = config.gan_eval_samples or homework.eval_samples
    n1, n2 = config.gan_iterations

    def seconds(n: int, size: int, samples: int = RATE_EVAL_SAMPLES) -> float:
        short = homework.replace(iterations=n, snapshot_every=n, eval_samples=samples)
        return train_stack([short.replace(seed=s) for s in range(1, size + 1)])[0].history.seconds

    per_run, lengths = {}, {}
    with cpu_threads(config.threads):
        for size in stack_sizes:  # the lengths alternate; the fastest is the least disturbed
            timings = [(seconds(n1, size), seconds(n2, size)) for _ in range(config.repeats)]
            t1, t2 = (min(column) for column in zip(*timings))
            per_run[str(size)], lengths[str(size)] = size * (n2 - n1) / (t2 - t1), [t1, t2]
        alone = per_run[str(stack_sizes[0])]
        with_snapshots = min(seconds(n1, 1, eval_samples) for _ in range(config.repeats))
    snapshot = max(with_snapshots - n1 / alone, 0.0) / 2  # a run of n1 takes two snapshots
    # the initial snapshot, one every snapshot_every iterations before the last, the final one
    snapshots = (homework.iterations - 1) // homework.snapshot_every + 2
    return {
        "lipschitz": lipschitz,
        "iterations_per_second": alone,
        "stacked_per_run": {k: v for k, v in per_run.items() if k != str(stack_sizes[0])},
        "snapshot_seconds": snapshot,  # one snapshot's evaluation at eval_samples
        "eval_samples": eval_samples,
        "homework_iterations": homework.iterations,
        "homework_snapshots": snapshots,
        "homework_run_seconds": homework.iterations / alone + snapshots * snapshot,
        "lengths": [n1, n2],
        "seconds": lengths,
    }


def measure_gans(config: BenchmarkConfig, stack_sizes: tuple[int, ...] = STACK_SIZES) -> list[dict]:
    """:func:`measure_gan` for every Lipschitz method."""
    return [measure_gan(method, config, stack_sizes) for method in LIPSCHITZ_METHODS]
