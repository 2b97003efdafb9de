"""Training the WGAN of homework §1.2: the objective (eq. 2), the penalties, the trainer (eq. 3–4).

The critic ascends and the generator descends the stochastic estimate of eq. 2,

.. math:: \\hat F(x, y) = \\frac1B \\sum_{i} d_y(a_i) - \\frac1B \\sum_{i} d_y(h_x(\\omega_i)),

with :math:`a_i` drawn from the target mixture and :math:`\\omega_i` from the standard normal noise.
Every iteration k makes one critic step followed by ``enforce_lipschitz()`` (the "clip" of eq. 3);
the generator steps when ``k % n_critic == 0`` (eq. 4), against the critic just updated. Two
separate ``torch.optim.Adam`` with betas (0, 0.9) drive the two players.

A run whose loss becomes non-finite stops there and is recorded as diverged (no exception), so an
experiment grid always finishes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from lib.config import GANConfig
from lib.gan.metrics import lipschitz_estimate, mode_metrics, plane_grid, wasserstein1
from lib.gan.networks import DualVariable, Generator
from lib.gan.targets import GaussianMixture, make_noise, make_target
from lib.runtime import cpu_threads, seed_everything

PLANE_RESOLUTION = 100  # grid points per axis for the critic's level sets and Lipschitz estimate


def objective(critic: DualVariable, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The estimate of eq. 2: mean of d over the real minibatch minus its mean over the fake one."""
    return critic(real).mean() - critic(fake).mean()


def sample_batch(target, noise, generator: Generator, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A real minibatch from ``target`` and a generated one from ``noise`` (both via ``.sample``)."""
    real = target.sample((batch_size,))
    fake = generator(noise.sample((batch_size,)))
    return real, fake


def gradient_penalty(critic: DualVariable, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """E[(‖∇d(â)‖ − 1)²] at random points â on segments between real and fake samples (WGAN-GP)."""
    t = torch.rand(real.shape[0], 1)
    mixed = (t * real + (1 - t) * fake).detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.norm(dim=1) - 1.0) ** 2).mean()


def spectral_regularisation(critic: DualVariable) -> torch.Tensor:
    """½ Σ_l σ̂(W_l)², the spectral-norm regulariser of Yoshida & Miyato (2017)."""
    return 0.5 * sum(sigma**2 for sigma in critic.spectral_norms())


def lipschitz_penalty(critic: DualVariable, real: torch.Tensor, fake: torch.Tensor, config: GANConfig) -> torch.Tensor:
    """The penalty added to the critic's loss by the configured method (zero for the projections)."""
    if config.lipschitz == "gradient_penalty":
        return config.gp_weight * gradient_penalty(critic, real, fake)
    if config.lipschitz == "spectral_regularisation":
        return config.sr_weight * spectral_regularisation(critic)
    return torch.zeros(())


@dataclass
class History:
    """What a run recorded: per-iteration losses and, at every snapshot, metrics and samples."""

    critic_objective: list[float] = field(default_factory=list)  # minibatch estimate of eq. 2, per k
    snapshot_iterations: list[int] = field(default_factory=list)  # critic steps done at the snapshot
    objective: list[float] = field(default_factory=list)  # eq. 2 on eval_samples real and fake
    w1: list[float] = field(default_factory=list)  # exact W1 between the same samples
    lipschitz: list[float] = field(default_factory=list)  # max ‖∇d‖ over the plotting box
    modes_covered: list[int] = field(default_factory=list)
    high_quality: list[float] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)  # generated samples at the snapshot
    critic_values: list[np.ndarray] = field(default_factory=list)  # d over the plane, (res, res)
    diverged_at: int | None = None  # iteration whose loss was non-finite, if any
    seconds: float = 0.0  # wall time of the training loop (snapshots included)

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


@dataclass
class _Players:
    """What a snapshot reads: the two networks, the distributions and the plotting box."""

    generator: Generator
    critic: DualVariable
    target: GaussianMixture
    target_dist: torch.distributions.Distribution
    noise: torch.distributions.Distribution
    box: tuple[float, float, float, float]


def _snapshot(history: History, k: int, players: _Players, n_eval: int) -> None:
    generator, critic, target, box = players.generator, players.critic, players.target, players.box
    with torch.no_grad():
        real = players.target_dist.sample((n_eval,))
        fake = generator(players.noise.sample((n_eval,)))
        history.objective.append(float(objective(critic, real, fake)))
        grid = plane_grid(box, PLANE_RESOLUTION)
        history.critic_values.append(critic(grid).reshape(PLANE_RESOLUTION, PLANE_RESOLUTION).numpy())
    history.snapshot_iterations.append(k)
    history.w1.append(wasserstein1(fake, real))
    history.lipschitz.append(lipschitz_estimate(critic, box, PLANE_RESOLUTION))
    finite = torch.isfinite(fake).all(dim=1)
    metrics = mode_metrics(fake[finite], target.means, target.std)
    history.modes_covered.append(metrics.modes_covered)
    history.high_quality.append(metrics.high_quality * float(finite.float().mean()))
    history.samples.append(fake.numpy().copy())


def _decay(optimizer: torch.optim.Optimizer, iterations: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Learning rate × (1 − k / iterations) at iteration k."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda k: max(0.0, 1.0 - k / iterations))


def _descend(loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> bool:
    """One optimizer step on ``loss``; False, and no step, when the loss is not finite."""
    if not torch.isfinite(loss):
        return False
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return True


def train_wgan(config: GANConfig, progress: bool = True) -> TrainingRun:
    """Train one WGAN as eq. 3–4 say; return the networks and the :class:`History`."""
    with cpu_threads(config.num_threads):
        seed_everything(config.seed)
        target = make_target(config.target)
        target_dist = target.distribution()
        noise = make_noise(config.noise_dim)
        generator = Generator(config.noise_dim, target.dim, config.hidden_dim)
        critic_width = config.critic_hidden_dim or config.hidden_dim
        critic = DualVariable(target.dim, critic_width, config.clip, config.lipschitz)
        critic.enforce_lipschitz()  # start inside the constraint set
        opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=config.betas)
        opt_d = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=config.betas)
        schedules = [_decay(opt, config.iterations) for opt in (opt_g, opt_d)] if config.lr_decay else []
        box = plot_box(target)
        history = History()
        players = _Players(generator, critic, target, target_dist, noise, box)
        _snapshot(history, 0, players, config.eval_samples)
        start = time.perf_counter()
        for k in tqdm(range(config.iterations), desc=f"{config.lipschitz} on {config.target}",
                      disable=not progress, mininterval=1.0):
            # Critic: ascend eq. 2 (descend its negative plus the penalty), then project (eq. 3).
            with torch.no_grad():  # the critic's step does not differentiate through h
                real, fake = sample_batch(target_dist, noise, generator, config.batch_size)
            gain = objective(critic, real, fake)
            loss_d = -gain + lipschitz_penalty(critic, real, fake, config)
            if not _descend(loss_d, opt_d):
                history.diverged_at = k
                break
            critic.enforce_lipschitz()
            history.critic_objective.append(gain.detach().item())
            # Generator: descend eq. 2 against the updated critic, every n_critic-th iteration (eq. 4).
            if k % config.n_critic == 0:
                loss_g = -critic(generator(noise.sample((config.batch_size,)))).mean()
                if not _descend(loss_g, opt_g):
                    history.diverged_at = k
                    break
            for schedule in schedules:
                schedule.step()
            if (k + 1) % config.snapshot_every == 0 and k + 1 < config.iterations:
                _snapshot(history, k + 1, players, config.eval_samples)
        steps = config.iterations if history.diverged_at is None else history.diverged_at
        _snapshot(history, steps, players, config.eval_samples)
        history.seconds = time.perf_counter() - start
    return TrainingRun(config, target, generator, critic, history, box)
