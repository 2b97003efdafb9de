"""Training the WGAN of homework §1.2: the objective (eq. 2), the penalties, the trainer (eq. 3–4).

The critic ascends and the generator descends the stochastic estimate of eq. 2,

.. math:: \\hat F(x, y) = \\frac1B \\sum_{i} d_y(a_i) - \\frac1B \\sum_{i} d_y(h_x(\\omega_i)),

with :math:`a_i` drawn from the target mixture and :math:`\\omega_i` from the standard normal noise.
Every iteration k makes one critic step followed by ``enforce_lipschitz()`` (the "clip" of eq. 3);
the generator steps when ``k % n_critic == 0`` (eq. 4), against the critic just updated. Two
separate ``torch.optim.Adam`` with betas (0, 0.9) drive the two players.

:func:`train_wgan` is the readable single-run reference; :mod:`lib.gan.stacked` trains many runs
as one stacked pair of networks and is tested equal to it. Both take their minibatches from the
run's own :class:`~lib.gan.sampling.RunSampler`. A run whose loss, parameters or metrics become
non-finite stops there and is recorded as diverged (no exception), so an experiment always ends.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from lib.config import GANConfig
from lib.gan.metrics import (
    critic_gradient_norms,
    mode_metrics,
    plane_grid,
    wasserstein1,
)
from lib.gan.networks import DualVariable, Generator
from lib.gan.sampling import (
    RunSampler,
    evaluation_generator,
    sample_mixture,
    sample_noise,
)
from lib.gan.targets import GaussianMixture, make_target
from lib.runtime import cpu_threads, seed_everything

PLANE_RESOLUTION = 100  # grid points per axis for the critic's level sets and Lipschitz estimate


def objective(critic: DualVariable, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The estimate of eq. 2: mean of d over the real minibatch minus its mean over the fake one."""
    return critic(real).mean() - critic(fake).mean()


def gradient_penalty(
    critic: DualVariable, real: torch.Tensor, fake: torch.Tensor, mix: torch.Tensor | None = None
) -> torch.Tensor:
    """E[(‖∇d(â)‖ − 1)²] at â = t·real + (1 − t)·fake (WGAN-GP); ``mix`` holds t, (batch, 1),
    drawn uniformly here when not given."""
    t = torch.rand(real.shape[0], 1, dtype=real.dtype) if mix is None else mix
    mixed = (t * real + (1 - t) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.norm(dim=1) - 1.0) ** 2).mean()


def spectral_regularisation(critic: DualVariable) -> torch.Tensor:
    """½ Σ_l σ̂(W_l)², the spectral-norm regulariser of Yoshida & Miyato (2017)."""
    return 0.5 * sum(sigma**2 for sigma in critic.spectral_norms())


def lipschitz_penalty(
    critic: DualVariable,
    real: torch.Tensor,
    fake: torch.Tensor,
    config: GANConfig,
    mix: torch.Tensor | None = None,
) -> torch.Tensor:
    """The penalty the configured method adds to the critic's loss (zero for the projections)."""
    if config.lipschitz == "gradient_penalty":
        return config.gp_weight * gradient_penalty(critic, real, fake, mix)
    if config.lipschitz == "spectral_regularisation":
        return config.sr_weight * spectral_regularisation(critic)
    return torch.zeros(())


@dataclass
class History:
    """What a run recorded: per-iteration losses and, at every snapshot, metrics and samples."""

    critic_objective: list[float] = field(
        default_factory=list
    )  # minibatch estimate of eq. 2, per k
    snapshot_iterations: list[int] = field(
        default_factory=list
    )  # critic steps done at the snapshot
    objective: list[float] = field(default_factory=list)  # eq. 2 on eval_samples real and fake
    w1: list[float] = field(default_factory=list)  # exact W1 between the same samples
    lipschitz: list[float] = field(default_factory=list)  # max ‖∇d‖ over the plotting box
    modes_covered: list[int] = field(default_factory=list)
    high_quality: list[float] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)  # generated samples at the snapshot
    critic_values: list[np.ndarray] = field(default_factory=list)  # d over the plane, (res, res)
    diverged_at: int | None = None  # iteration whose loss, parameters or metrics were non-finite
    seconds: float = 0.0  # wall time of the loop that trained the run (snapshots included)
    stacked_with: int = 1  # runs trained together in that loop (1: alone)

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None


@dataclass
class TrainingRun:
    """A finished run: its settings, the two trained networks and the history."""

    config: GANConfig
    target: GaussianMixture
    generator: Generator
    critic: DualVariable
    history: History
    box: tuple[float, float, float, float]

    @property
    def final(self) -> dict:
        """The last snapshot's metrics."""
        h = self.history
        return {
            "modes_covered": h.modes_covered[-1],
            "high_quality": h.high_quality[-1],
            "w1": h.w1[-1],
            "objective": h.objective[-1],
            "lipschitz": h.lipschitz[-1],
            "diverged": h.diverged,
        }


def plot_box(target: GaussianMixture) -> tuple[float, float, float, float]:
    """The square of the plane shown in figures: the mode centres widened by 1 + 4 std."""
    margin = 1.0 + 4 * target.std
    lo = target.means.min(dim=0).values - margin
    hi = target.means.max(dim=0).values + margin
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


def build_networks(
    config: GANConfig, dtype: torch.dtype = torch.float32
) -> tuple[Generator, DualVariable]:
    """The run's two networks, initialised from its seed; the critic starts in its constraint."""
    seed_everything(config.seed)
    generator = Generator(config.noise_dim, make_target(config.target).dim, config.hidden_dim)
    critic = DualVariable(
        generator.output_dim,
        config.critic_hidden_dim or config.hidden_dim,
        config.clip,
        config.lipschitz,
    )
    generator.to(dtype)
    critic.to(dtype)
    critic.enforce_lipschitz()
    return generator, critic


def record_snapshot(
    history: History,
    k: int,
    generator: Generator,
    critic: DualVariable,
    run_target: GaussianMixture,
    box,
    n_eval: int,
    draws: torch.Generator,
) -> bool:
    """Append the metrics and samples of the networks after ``k`` steps; False if any is not finite.

    ``draws`` is the run's evaluation generator (:func:`~lib.gan.sampling.evaluation_generator`).
    """
    dtype = next(critic.parameters()).dtype
    with torch.no_grad():
        real = sample_mixture(run_target, (n_eval,), draws, dtype)
        fake = generator(sample_noise(generator.noise_dim, (n_eval,), draws, dtype))
        history.objective.append(float(objective(critic, real, fake)))
        grid = plane_grid(box, PLANE_RESOLUTION).to(dtype)
        history.critic_values.append(
            critic(grid).reshape(PLANE_RESOLUTION, PLANE_RESOLUTION).numpy()
        )
    history.snapshot_iterations.append(k)
    history.w1.append(wasserstein1(fake, real))
    history.lipschitz.append(float(critic_gradient_norms(critic, grid).max()))  # over the box
    finite = torch.isfinite(fake).all(dim=1)
    metrics = mode_metrics(fake[finite].float(), run_target.means, run_target.std)
    history.modes_covered.append(metrics.modes_covered)
    history.high_quality.append(metrics.high_quality * float(finite.float().mean()))
    history.samples.append(fake.float().numpy().copy())
    parameters = torch.cat(
        [p.detach().reshape(-1) for p in (*generator.parameters(), *critic.parameters())]
    )
    values = (history.objective[-1], history.w1[-1], history.lipschitz[-1])
    return bool(torch.isfinite(parameters).all()) and all(math.isfinite(v) for v in values)


def critic_step(
    critic: DualVariable,
    optimizer: torch.optim.Optimizer,
    real: torch.Tensor,
    fake: torch.Tensor,
    config: GANConfig,
    mix: torch.Tensor | None = None,
) -> torch.Tensor | None:
    """One critic step of eq. 3: descend −F̂ + penalty, then project; return F̂ (detached).

    Returns None, and changes nothing, when the loss is not finite.
    """
    gain = objective(critic, real, fake)
    loss = -gain + lipschitz_penalty(critic, real, fake, config, mix)
    if not torch.isfinite(loss):
        return None
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    critic.enforce_lipschitz()
    return gain.detach()


def generator_step(
    generator: Generator,
    critic: DualVariable,
    optimizer: torch.optim.Optimizer,
    noise: torch.Tensor,
) -> torch.Tensor | None:
    """One generator step of eq. 4: descend −mean d(h(ω)); return that loss, None if not finite."""
    loss = -critic(generator(noise)).mean()
    if not torch.isfinite(loss):
        return None
    parameters = list(generator.parameters())
    # Only the generator's gradient: the critic's would be computed and thrown away.
    for p, g in zip(parameters, torch.autograd.grad(loss, parameters)):
        p.grad = g
    optimizer.step()
    return loss.detach()


def snapshot_due(k: int, config: GANConfig) -> bool:
    """Whether a snapshot follows iteration ``k`` (the last one is taken after the loop)."""
    return (k + 1) % config.snapshot_every == 0 and k + 1 < config.iterations


def train_wgan(
    config: GANConfig, progress: bool = True, dtype: torch.dtype = torch.float32
) -> TrainingRun:
    """Train one WGAN as eq. 3–4 say; return the networks and the :class:`History`."""
    with cpu_threads(config.num_threads):
        run_target = make_target(config.target)
        generator, critic = build_networks(config, dtype)
        # fused: one kernel per step for all of a network's tensors, the fastest Adam measured here
        opt_g = torch.optim.Adam(
            generator.parameters(), lr=config.lr, betas=config.betas, fused=True
        )
        opt_d = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=config.betas, fused=True)
        schedules = []
        if config.lr_decay:  # learning rate × (1 − k / iterations) at iteration k
            schedules = [
                torch.optim.lr_scheduler.LambdaLR(
                    opt, lambda k: max(0.0, 1.0 - k / config.iterations)
                )
                for opt in (opt_g, opt_d)
            ]
        sampler = RunSampler(
            run_target, config.noise_dim, config.batch_size, config.seed, dtype=dtype
        )
        eval_draws = evaluation_generator(config.seed)
        box, history = plot_box(run_target), History()
        trace = torch.zeros(config.iterations, dtype=dtype)  # F̂ per iteration, read once at the end

        def snapshot(k: int) -> bool:
            return record_snapshot(
                history, k, generator, critic, run_target, box, config.eval_samples, eval_draws
            )

        snapshot(0)
        start = time.perf_counter()
        for k in tqdm(
            range(config.iterations),
            desc=f"{config.lipschitz} on {config.target}",
            disable=not progress,
            mininterval=1.0,
        ):
            draws = sampler.draws(k)
            with torch.no_grad():  # the critic's step does not differentiate through h
                fake = generator(draws.critic_noise)
            gain = critic_step(critic, opt_d, draws.real, fake, config, draws.mix)
            if gain is None:
                history.diverged_at = k
                break
            trace[k] = gain
            if (
                k % config.n_critic == 0
                and generator_step(generator, critic, opt_g, draws.generator_noise) is None
            ):
                history.diverged_at = k
                break
            for schedule in schedules:
                schedule.step()
            if snapshot_due(k, config) and not snapshot(k + 1):
                history.diverged_at = k + 1
                break
        steps = config.iterations if history.diverged_at is None else history.diverged_at
        if (
            history.snapshot_iterations[-1] != steps
            and not snapshot(steps)
            and history.diverged_at is None
        ):
            history.diverged_at = steps
        history.critic_objective = trace[:steps].tolist()
        history.seconds = time.perf_counter() - start
    return TrainingRun(config, run_target, generator, critic, history, box)
