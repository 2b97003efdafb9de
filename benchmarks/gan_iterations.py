"""WGAN training speed: iterations per second of :func:`lib.gan.training.train_wgan`.

The homework's configuration (:class:`lib.config.GANConfig` defaults) is run for two lengths,
``n1 < n2`` critic iterations, with no snapshot but the final one. The trainer's own clock
(``History.seconds``) then reads ``t(n) = s + n / r``: the difference of the two runs gives the
iteration rate ``r`` free of the snapshot's cost ``s``, and ``s`` follows. Both are combined into
the wall time of the homework's whole run, snapshots included.
"""

from __future__ import annotations

from lib.config import BenchmarkConfig, GANConfig
from lib.gan.networks import LIPSCHITZ_METHODS
from lib.gan.training import train_wgan

def rate_from_two_lengths(n1: int, t1: float, n2: int, t2: float) -> tuple[float, float]:
    """Iterations per second and fixed seconds of ``t(n) = fixed + n / rate`` through two points."""
    if not 0 < n1 < n2:
        raise ValueError(f"n1 and n2 must satisfy 0 < n1 < n2, got n1={n1!r}, n2={n2!r}")
    if not t2 > t1 > 0:
        raise ValueError(f"t1 and t2 must satisfy 0 < t1 < t2, got t1={t1!r}, t2={t2!r}")
    rate = (n2 - n1) / (t2 - t1)
    return rate, max(t1 - n1 / rate, 0.0)

def snapshots_in_run(iterations: int, snapshot_every: int) -> int:
    """Snapshots one :func:`train_wgan` run takes: the initial one, every ``snapshot_every``-th
    iteration before the last, and the final one."""
    if iterations <= 0 or snapshot_every <= 0:
        raise ValueError(f"iterations and snapshot_every must be positive, got "
                         f"{iterations!r} and {snapshot_every!r}")
    return (iterations - 1) // snapshot_every + 2

def measure_gan(lipschitz: str, config: BenchmarkConfig) -> dict:
    """Iteration rate, snapshot cost and projected homework run time for one Lipschitz method."""
    homework = GANConfig(lipschitz=lipschitz)
    eval_samples = config.gan_eval_samples or homework.eval_samples
    n1, n2 = config.gan_iterations
    seconds: dict[int, list[float]] = {n1: [], n2: []}
    for _ in range(config.repeats):
        for n in (n1, n2):
            run = train_wgan(homework.replace(iterations=n, snapshot_every=n,
                                              eval_samples=eval_samples), progress=False)
            seconds[n].append(run.history.seconds)
    t1, t2 = min(seconds[n1]), min(seconds[n2])  # the least disturbed runs
    rate, snapshot = rate_from_two_lengths(n1, t1, n2, t2)
    snapshots = snapshots_in_run(homework.iterations, homework.snapshot_every)
    return {
        "lipschitz": lipschitz,
        "iterations_per_second": rate,
        "snapshot_seconds": snapshot,
        "eval_samples": eval_samples,
        "homework_iterations": homework.iterations,
        "homework_snapshots": snapshots,
        "homework_run_seconds": homework.iterations / rate + snapshots * snapshot,
        "lengths": [n1, n2],
        "seconds": [t1, t2],
    }

def measure_gans(config: BenchmarkConfig) -> list[dict]:
    """:func:`measure_gan` for every Lipschitz method."""
    return [measure_gan(method, config) for method in LIPSCHITZ_METHODS]
