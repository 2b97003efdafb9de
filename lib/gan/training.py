"""Training the WGAN of homework §1.2: the objective (eq. 2), the penalties, the trainer (eq. 3–4).

The critic ascends and the generator descends the stochastic estimate of eq. 2,

.. math:: \\hat F(x, y) = \\frac1B \\sum_{i} d_y(a_i) - \\frac1B \\sum_{i} d_y(h_x(\\omega_i)),

with :math:`a_i` drawn uniformly from the run's n target samples (μ̂_n: see
:mod:`lib.gan.targets`) and :math:`\\omega_i` from the noise. :func:`train_alternating` is
eq. 3–4 and nothing else: every iteration k makes one critic step followed by the "clip" of
eq. 3 (:func:`enforce_lipschitz`); the generator steps when ``k % n_critic == 0`` (eq. 4),
against the critic just updated. Two ``torch.optim.Adam`` with betas (0, 0.9) drive the two
players; autograd fills ``.grad`` laid out like each parameter, as the fused Adam kernel (the
fastest measured here) requires.

:func:`train_stack` wraps it to train R runs at once: runs whose settings are equal but for the
seed and the target share one pair of networks with a run axis (:mod:`lib.gan.networks`); every
function below returns one value per run, and the optimizers step on the sum of the runs' losses,
whose gradient for run r is that of run r's own loss. Adam is elementwise, so one Adam over the
stacked tensors is R independent Adams. :func:`train_wgan` is a stack of one. Around the trainer
the wrapper keeps each run's random stream, the snapshots and the learning-rate schedules, and
stops a run whose F̂ or parameters become non-finite: it is recorded as diverged at that iteration
and gets back its parameters from before that step, while the runs stacked with it go on
unaffected; an experiment therefore always ends.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR

from lib.gan.config import GANConfig
from lib.gan.metrics import mode_metrics, plane_grid, wasserstein1
from lib.gan.networks import DualVariable, Generator, reset_runs
from lib.gan.targets import (
    BLOCK,
    EVALUATION_STREAM,
    GaussianMixture,
    RunStream,
    draw_block,
    make_noise,
    make_target,
    training_set,
)
from lib.runtime import cpu_threads

PLANE_RESOLUTION = 100  # grid points per axis for the critic's level sets and Lipschitz estimate
PER_RUN_FIELDS = ("seed", "target")  # what may differ between the runs of one stack
METRICS = ("modes_covered", "high_quality", "w1", "objective", "lipschitz")  # at every snapshot


def objective(critic: DualVariable, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The estimate of eq. 2 per run: mean of d over the real minibatch minus that over the fake
    (both minibatches through the critic in one call)."""
    values = critic(torch.cat([real, fake], dim=1))
    return values[:, : real.shape[1]].mean(dim=1) - values[:, real.shape[1] :].mean(dim=1)


def gradient_penalty(
    critic: DualVariable, real: torch.Tensor, fake: torch.Tensor, mix: torch.Tensor
) -> torch.Tensor:
    """E[(‖∇d(â)‖ − 1)²] per run at â = t·real + (1 − t)·fake (WGAN-GP), t = ``mix`` (R, B, 1).

    ``create_graph=True`` keeps ∇d(â) differentiable in the critic's weights, so the loss's
    gradient goes through autograd's double backward, for any depth.
    """
    mixed = (mix * real + (1 - mix) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.norm(dim=2) - 1.0) ** 2).mean(dim=1)


def spectral_regularisation(critic: DualVariable) -> torch.Tensor:
    """½ Σ_l σ̂(W_l)² per run, the spectral-norm regulariser of Yoshida & Miyato (2017)."""
    return 0.5 * sum(sigma**2 for sigma in critic.spectral_norms())


def lipschitz_penalty(critic, real, fake, mix, config: GANConfig) -> torch.Tensor | float:
    """The penalty the configured method adds to the critic's loss (zero for the projections)."""
    if config.lipschitz == "gradient_penalty":
        return config.gp_weight * gradient_penalty(critic, real, fake, mix)
    if config.lipschitz == "spectral_regularisation":
        return config.sr_weight * spectral_regularisation(critic)
    return 0.0


def enforce_lipschitz(critic: DualVariable, config: GANConfig) -> None:
    """The "clip" of eq. 3: project the critic's weights as the configured method says."""
    if config.lipschitz == "spectral_normalisation":
        critic.spectral_normalisation()
    elif config.lipschitz == "weight_clipping":
        critic.weight_clipping(config.clip)
    elif config.lipschitz == "spectral_regularisation":
        critic.update_singular_vectors()  # u tracks the top singular vector; the penalty acts
    # gradient_penalty: nothing to project, the penalty acts through the loss.


def critic_step(critic, optimizer, real, fake, mix, config: GANConfig) -> torch.Tensor:
    """One critic step of eq. 3: descend −F̂ + penalty, then the clip; return F̂ per run."""
    optimizer.zero_grad()
    gain = objective(critic, real, fake)
    (-gain + lipschitz_penalty(critic, real, fake, mix, config)).sum().backward()
    optimizer.step()
    enforce_lipschitz(critic, config)
    return gain.detach()


def generator_step(generator, critic, optimizer, noise: torch.Tensor) -> None:
    """One generator step of eq. 4: descend −mean d(h(ω)) per run."""
    optimizer.zero_grad()
    (-critic(generator(noise)).mean(dim=1)).sum().backward()
    optimizer.step()


def train_alternating(generator, critic, config: GANConfig, books) -> None:
    """Eq. 3–4 with two Adams, betas (0, 0.9) by default: at every iteration k a critic
    step and the clip, and a generator step when k mod n_critic = 0. ``books`` keeps
    the rest (:class:`_Stack`): schedules, draws, snapshots, divergence; its
    ``after_step`` returns True to stop early."""
    adam = dict(lr=config.lr, betas=config.betas, fused=True)
    opt_d = torch.optim.Adam(critic.parameters(), **adam)
    opt_g = torch.optim.Adam(generator.parameters(), **adam)
    books.start(opt_d, opt_g)
    for k in range(config.iterations):
        real, critic_noise, generator_noise, mix = books.draw(k)
        # (1) Update the critic: one step up eq. 2's estimate, then the clip (eq. 3)
        with torch.no_grad():  # the critic's step does not differentiate through h
            fake = generator(critic_noise)
        gain = critic_step(critic, opt_d, real, fake, mix, config)
        # (2) Update the generator against the critic just updated (eq. 4)
        if k % config.n_critic == 0:
            generator_step(generator, critic, opt_g, generator_noise)
        if books.after_step(k, gain):
            break


@dataclass
class History:
    """What a run recorded: per-iteration F̂ and, at every snapshot, metrics and samples."""

    critic_objective: list[float] = field(default_factory=list)  # minibatch F̂ per iteration
    snapshot_iterations: list[int] = field(default_factory=list)  # critic steps done
    objective: list[float] = field(default_factory=list)  # eq. 2 on eval_samples real and fake
    w1: list[float] = field(default_factory=list)  # exact W1 between the same samples
    lipschitz: list[float] = field(default_factory=list)  # max ‖∇d‖ over the plotting box
    modes_covered: list[int] = field(default_factory=list)
    high_quality: list[float] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)  # generated samples at the snapshot
    critic_values: list[np.ndarray] = field(default_factory=list)  # d over the plane, (res, res)
    diverged_at: int | None = None  # iteration whose F̂, parameters or metrics were non-finite
    seconds: float = 0.0  # wall time of the loop that trained the run (snapshots included)
    stacked_with: int = 1  # runs trained together in that loop (1: alone)

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    def append(self, k: int, record: dict) -> None:
        """Add the snapshot ``record`` (from :func:`snapshot`) taken after ``k`` critic steps."""
        self.snapshot_iterations.append(k)
        for name in (*METRICS, "samples", "critic_values"):
            getattr(self, name).append(record[name])


@dataclass
class TrainingRun:
    """A finished run: its settings, its two trained networks (R = 1) and the history."""

    config: GANConfig
    target: GaussianMixture
    generator: Generator
    critic: DualVariable
    history: History
    box: tuple[float, float, float, float]

    @property
    def final(self) -> dict:
        """The last snapshot's :data:`METRICS`."""
        return {name: getattr(self.history, name)[-1] for name in METRICS}


def plot_box(target: GaussianMixture) -> tuple[float, float, float, float]:
    """The square of the plane shown in figures: the mode centres widened by 1 + 4 std."""
    margin = 1.0 + 4 * target.std
    lo, hi = target.means.min(dim=0).values - margin, target.means.max(dim=0).values + margin
    return (float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1]))


def make_networks(config: GANConfig, runs: int = 1) -> tuple[Generator, DualVariable]:
    """Uninitialised networks for ``runs`` runs of ``config``'s shapes."""
    width, depth = config.critic_hidden_dim or config.hidden_dim, config.depth
    generator = Generator(runs, config.noise_dim, 2, config.hidden_dim, depth)
    return generator, DualVariable(runs, 2, width, depth)


def build_networks(configs: list[GANConfig], dtype=torch.float32):
    """The stack's two networks, run r initialised from its seed; the critics start projected."""
    generator, critic = make_networks(configs[0], len(configs))
    for module in (generator, critic):
        reset_runs(module, [c.seed for c in configs])
        module.to(dtype)
    enforce_lipschitz(critic, configs[0])
    return generator, critic


def _run_of(module, config: GANConfig, r: int, index: int):
    """Run r of a stacked network as a network of its own (R = 1)."""
    single = make_networks(config)[index].to(next(module.parameters()).dtype)
    single.load_state_dict({k: v[r : r + 1].clone() for k, v in module.state_dict().items()})
    return single


def snapshot(generator, critic, targets, boxes, streams, n_eval: int) -> list[dict]:
    """Metrics, samples and critic values of every run of the stack, one dict per run."""
    dtype = next(critic.parameters()).dtype
    real, noise = [], []
    for target, stream in zip(targets, streams):
        with stream.active():
            real.append(target.sample((n_eval,), dtype))
            noise.append(make_noise(generator.layers[0].weight.shape[2], dtype).sample((n_eval,)))
    grid = torch.stack([plane_grid(box, PLANE_RESOLUTION) for box in boxes]).to(dtype)
    grid.requires_grad_(True)
    values = critic(grid)
    (slopes,) = torch.autograd.grad(values.sum(), grid)
    with torch.no_grad():
        real, fake = torch.stack(real), generator(torch.stack(noise))
        gains = objective(critic, real, fake).tolist()
    records = []
    for r, target in enumerate(targets):
        ok = torch.isfinite(fake[r]).all(dim=1)
        modes = mode_metrics(fake[r][ok].float(), target.means, target.std)
        record = {
            "objective": gains[r],
            "w1": wasserstein1(fake[r], real[r]),
            "lipschitz": float(slopes[r].norm(dim=1).max()),
            "modes_covered": modes.modes_covered,
            "high_quality": modes.high_quality * float(ok.float().mean()),
            "samples": fake[r].float().numpy().copy(),
            "critic_values": values[r].detach().reshape(PLANE_RESOLUTION, -1).numpy().copy(),
        }
        # (the parameters are checked after every step: see _Stack.after_step)
        metrics = (record["objective"], record["w1"], record["lipschitz"])
        record["finite"] = all(math.isfinite(v) for v in metrics)
        records.append(record)
    return records


class _Stack:
    """What :func:`train_stack` keeps around :func:`train_alternating`: each run's draws from its
    own stream, the trace of F̂, the learning-rate schedules, the snapshots, and divergence: a run
    whose F̂ or parameters become non-finite at a step gets back its parameters from before that
    step and keeps them to the end, while the runs stacked with it go on."""

    def __init__(self, configs: list[GANConfig], generator, critic, dtype: torch.dtype):
        self.config, self.dtype, self.generator, self.critic = configs[0], dtype, generator, critic
        self.targets = [make_target(c.target) for c in configs]
        self.boxes = [plot_box(t) for t in self.targets]
        self.streams = [RunStream(c.seed) for c in configs]
        n = self.config.train_samples
        self.data = [training_set(t, n, s, dtype) for t, s in zip(self.targets, self.streams)]
        self.eval_streams = [RunStream(c.seed + EVALUATION_STREAM) for c in configs]
        self.histories = [History(stacked_with=len(configs)) for _ in configs]
        self.trace = torch.zeros(self.config.iterations, len(configs), dtype=dtype)
        self.params = [*generator.parameters(), *critic.parameters()]
        self.before = _flat(self.params)  # the parameters before the current step
        self.alive = torch.ones(len(configs), dtype=torch.bool)
        self.stopped_at: list[int | None] = [None] * len(configs)  # a run's first bad iteration
        self.schedules, self.steps, self.block = [], self.config.iterations, None

    def draw(self, k: int) -> tuple[torch.Tensor, ...]:
        """Iteration k's real, critic noise, generator noise and mix, each (R, batch, ·)."""
        if k % BLOCK == 0:
            sizes = (self.config.noise_dim, self.config.batch_size)
            pairs = zip(self.data, self.streams)
            blocks = [draw_block(data, *sizes, stream, self.dtype) for data, stream in pairs]
            self.block = [torch.stack(parts, dim=1) for parts in zip(*blocks)]
        return tuple(b[k % BLOCK] for b in self.block)

    def start(self, *optimizers: torch.optim.Optimizer) -> None:
        """With ``lr_decay``, each learning rate × (1 − k / iterations) at iteration k."""
        if self.config.lr_decay:
            n = self.config.iterations
            self.schedules = [LambdaLR(opt, lambda k: max(0.0, 1 - k / n)) for opt in optimizers]

    def after_step(self, k: int, gain: torch.Tensor) -> bool:
        """Books of iteration k; True when every run has diverged (the trainer stops)."""
        for schedule in self.schedules:
            schedule.step()
        self.trace[k] = gain
        self.freeze(k, torch.isfinite(gain) & torch.isfinite(_flat(self.params)).all(dim=1))
        done = k + 1
        if done % self.config.snapshot_every == 0 and done < self.config.iterations:
            self.take_snapshots(done)
            if all(h.diverged for h in self.histories):
                self.steps = done
                return True
        return False

    @torch.no_grad()
    def freeze(self, k: int, finite: torch.Tensor) -> None:
        """Runs not ``finite`` after step k stop there; stopped runs get their parameters back."""
        for r in (self.alive & ~finite).nonzero().flatten().tolist():
            self.stopped_at[r] = k
        self.alive &= finite
        if not self.alive.all():
            dead = ~self.alive
            sizes = [p[0].numel() for p in self.params]
            for p, old in zip(self.params, self.before.split(sizes, dim=1)):
                p[dead] = old[dead].view(-1, *p.shape[1:])
        self.before = _flat(self.params)

    def take_snapshots(self, k: int) -> None:
        """Record every run still going after k steps; a run stopped since the last snapshot
        records its frozen state at the iteration it stopped, and ends there."""
        n_eval, nets = self.config.eval_samples, (self.generator, self.critic)
        records = snapshot(*nets, self.targets, self.boxes, self.eval_streams, n_eval)
        for r, (h, record) in enumerate(zip(self.histories, records)):
            if h.diverged:
                continue
            stopped = self.stopped_at[r]
            h.append(k if stopped is None else stopped, record)
            if stopped is not None or not record["finite"]:
                h.diverged_at = self.stopped_at[r] = k if stopped is None else stopped
                self.alive[r] = False

    def unstack(self, configs: list[GANConfig], seconds: float) -> list[TrainingRun]:
        """Run r of the stack as a finished run of its own."""
        runs = []
        for r, (config, history) in enumerate(zip(configs, self.histories)):
            done = self.steps if history.diverged_at is None else history.diverged_at
            history.critic_objective, history.seconds = self.trace[:done, r].tolist(), seconds
            g, d = _run_of(self.generator, config, r, 0), _run_of(self.critic, config, r, 1)
            runs.append(TrainingRun(config, self.targets[r], g, d, history, self.boxes[r]))
        return runs


def _flat(params: list[torch.Tensor]) -> torch.Tensor:
    """Every parameter of each run in one row, shape (R, parameters), detached."""
    return torch.cat([p.detach().flatten(1) for p in params], dim=1)


def train_stack(configs: list[GANConfig], dtype: torch.dtype = torch.float32) -> list[TrainingRun]:
    """Train runs whose configs differ only in :data:`PER_RUN_FIELDS` as one stack."""
    first = configs[0]
    if any(dataclasses.replace(c, seed=first.seed, target=first.target) != first for c in configs):
        raise ValueError(f"configs must differ only in {PER_RUN_FIELDS}")
    with cpu_threads(first.num_threads):
        generator, critic = build_networks(configs, dtype)
        stack = _Stack(configs, generator, critic, dtype)
        stack.take_snapshots(0)
        start = time.perf_counter()
        train_alternating(generator, critic, first, stack)
        stack.take_snapshots(stack.steps)
        seconds = time.perf_counter() - start
    return stack.unstack(configs, seconds)


def train_wgan(config: GANConfig, dtype: torch.dtype = torch.float32) -> TrainingRun:
    """Train one WGAN as eq. 3–4 say: a stack of one."""
    return train_stack([config], dtype)[0]
