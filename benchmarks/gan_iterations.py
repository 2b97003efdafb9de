"""WGAN training speed: iterations per second per run, separate against stacked, per method.

Three ways to train the homework's configuration (:class:`lib.config.GANConfig` defaults) are
timed side by side in one process, for every Lipschitz method:

* the readable single-run trainer :func:`lib.gan.training.train_wgan`;
* a minimal loop of the same networks and steps (pre-drawn minibatches, no history, no snapshot):
  what the single-run trainer's own bookkeeping costs is the gap to it;
* :func:`lib.gan.stacked.train_stacked` with R seeds as one stack, for each R in ``stack_sizes``;
  its rate per run is R × the stack's iterations per second.

Each trainer runs two lengths, ``n1 < n2`` critic iterations, with no snapshot but the first and
the last. The trainer's own clock (``History.seconds``) then reads ``t(n) = s + n / r``: the
difference of the two runs gives the iteration rate ``r`` free of the snapshots' cost ``s``.
These timings evaluate their snapshots on :data:`RATE_EVAL_SAMPLES` samples: at the homework's
size, a snapshot's exact W1 costs more than the iterations timed, and its jitter would swamp
their difference. The cost of a snapshot at the homework's size is timed on its own, from
single runs of ``n1`` iterations.
"""

from __future__ import annotations

import time

import torch

from lib.config import BenchmarkConfig, GANConfig
from lib.gan.networks import LIPSCHITZ_METHODS
from lib.gan.sampling import RunSampler
from lib.gan.stacked import train_stacked
from lib.gan.targets import make_target
from lib.gan.training import build_networks, critic_step, generator_step, train_wgan
from lib.runtime import cpu_threads

STACK_SIZES = (3, 5, 15)  # runs per stack measured
STACK_REPEATS = 2  # repetitions of each stacked timing (a stack of 15 takes long on a CPU)
RATE_EVAL_SAMPLES = 100  # samples per snapshot in the timings that measure iteration rates


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
        raise ValueError(
            f"iterations and snapshot_every must be positive, got "
            f"{iterations!r} and {snapshot_every!r}"
        )
    return (iterations - 1) // snapshot_every + 2


def minimal_loop_seconds(config: GANConfig) -> float:
    """Seconds of ``config.iterations`` bare steps of the same networks: the draws made before
    the clock starts, no trace, no divergence bookkeeping, no snapshot."""
    generator, critic = build_networks(config)
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=config.betas, fused=True)
    opt_d = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=config.betas, fused=True)
    sampler = RunSampler(
        make_target(config.target), config.noise_dim, config.batch_size, config.seed
    )
    draws = [sampler.draws(k) for k in range(config.iterations)]
    start = time.perf_counter()
    for k, d in enumerate(draws):
        with torch.no_grad():
            fake = generator(d.critic_noise)
        critic_step(critic, opt_d, d.real, fake, config, d.mix)
        if k % config.n_critic == 0:
            generator_step(generator, critic, opt_g, d.generator_noise)
    return time.perf_counter() - start


def _rate(seconds_of, lengths: tuple[int, int], repeats: int) -> tuple[float, float, list[float]]:
    """Rate and fixed cost from the fastest of ``repeats`` alternating timings of both lengths."""
    n1, n2 = lengths
    seconds: dict[int, list[float]] = {n1: [], n2: []}
    for _ in range(repeats):
        for n in (n1, n2):
            seconds[n].append(seconds_of(n))
    t1, t2 = min(seconds[n1]), min(seconds[n2])  # the least disturbed runs
    rate, fixed = rate_from_two_lengths(n1, t1, n2, t2)
    return rate, fixed, [t1, t2]


def measure_gan(
    lipschitz: str, config: BenchmarkConfig, stack_sizes: tuple[int, ...] = STACK_SIZES
) -> dict:
    """Iteration rates (separate, minimal loop, stacked per run) and snapshot cost of a method."""
    homework = GANConfig(lipschitz=lipschitz, num_threads=config.threads)
    eval_samples = config.gan_eval_samples or homework.eval_samples

    def short(n: int, seed: int = homework.seed, samples: int = RATE_EVAL_SAMPLES) -> GANConfig:
        return homework.replace(iterations=n, snapshot_every=n, eval_samples=samples, seed=seed)

    with cpu_threads(config.threads):
        rate, _, seconds = _rate(
            lambda n: train_wgan(short(n), progress=False).history.seconds,
            config.gan_iterations,
            config.repeats,
        )
        # A run of n1 iterations with its two snapshots at the homework's size: the rest of
        # its time beyond n1 / rate is the two snapshots' cost.
        n1 = config.gan_iterations[0]
        with_snapshots = min(
            train_wgan(short(n1, samples=eval_samples), progress=False).history.seconds
            for _ in range(config.repeats)
        )
        snapshot = max(with_snapshots - n1 / rate, 0.0) / 2
        minimal, _, _ = _rate(
            lambda n: minimal_loop_seconds(short(n)), config.gan_iterations, config.repeats
        )
        stacked = {}
        for size in stack_sizes:

            def stack_seconds(n: int, size: int = size) -> float:
                return train_stacked([short(n, seed) for seed in range(1, size + 1)])[
                    0
                ].history.seconds

            stack_rate, _, _ = _rate(
                stack_seconds, config.gan_iterations, min(config.repeats, STACK_REPEATS)
            )
            stacked[str(size)] = size * stack_rate
    snapshots = snapshots_in_run(homework.iterations, homework.snapshot_every)
    return {
        "lipschitz": lipschitz,
        "iterations_per_second": rate,
        "minimal_loop_per_second": minimal,
        "stacked_per_run": stacked,  # runs per stack (as a string) -> iterations/s per run
        "stacked_speedup": {size: r / rate for size, r in stacked.items()},
        "snapshot_seconds": snapshot,  # one snapshot's evaluation at eval_samples
        "eval_samples": eval_samples,
        "homework_iterations": homework.iterations,
        "homework_snapshots": snapshots,
        "homework_run_seconds": homework.iterations / rate + snapshots * snapshot,
        "lengths": list(config.gan_iterations),
        "seconds": seconds,
    }


def measure_gans(config: BenchmarkConfig, stack_sizes: tuple[int, ...] = STACK_SIZES) -> list[dict]:
    """:func:`measure_gan` for every Lipschitz method."""
    return [measure_gan(method, config, stack_sizes) for method in LIPSCHITZ_METHODS]
