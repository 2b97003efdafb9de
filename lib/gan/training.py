"""Training the WGAN of homework §1.2: the objective (eq. 2), the penalties, the trainer (eq. 3–4).

The critic ascends and the generator descends the stochastic estimate of eq. 2,

.. math:: \\hat F(x, y) = \\frac1B \\sum_{i} d_y(a_i) - \\frac1B \\sum_{i} d_y(h_x(\\omega_i)),

with :math:`a_i` drawn from the target and :math:`\\omega_i` from the noise (fresh draws every
step: see :mod:`lib.gan.targets`). Every iteration k makes one critic step followed by the "clip" of
eq. 3 (:func:`enforce_lipschitz`); the generator steps when ``k % n_critic == 0`` (eq. 4), against
the critic just updated. Two ``torch.optim.Adam`` with betas (0, 0.9) drive the two players.

One trainer, :func:`train_stack`, trains R runs at once: runs whose settings are equal but for
the seed and the target share one pair of networks with a run axis (:mod:`lib.gan.networks`);
every function below returns one value per run, and the optimizers step on the sum of the runs'
losses, whose gradient for run r is that of run r's own loss. Adam is elementwise, so one Adam
over the stacked tensors is R independent Adams. :func:`train_wgan` is a stack of one.

A run whose loss, parameters or metrics become non-finite is recorded as diverged at that
iteration and frozen (its gradients zeroed and its parameters kept), while the runs stacked with it
go on unaffected; an experiment therefore always ends.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

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
)
from lib.runtime import cpu_threads

PLANE_RESOLUTION = 100  # grid points per axis for the critic's level sets and Lipschitz estimate
PER_RUN_FIELDS = ("seed", "target")  # what may differ between the runs of one stack


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


def descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor, alive: torch.Tensor) -> None:
    """One optimizer step on the runs' losses (R,). A run whose loss is not finite is marked in
    ``alive`` (in place); runs not alive get a zero gradient and keep their parameters."""
    params = optimizer.param_groups[0]["params"]
    alive &= torch.isfinite(loss)
    for p, g in zip(params, torch.autograd.grad(loss.sum(), params)):
        # autograd.grad may return a transposed (non-contiguous) gradient, e.g. for the weight
        # used as W.transpose(1, 2) in baddbmm; the fused Adam kernel reads it as if laid out
        # like the parameter, so it must be made contiguous (measured: wrong updates otherwise).
        p.grad = g.contiguous()
    if bool(alive.all()):
        optimizer.step()
        return
    dead = ~alive
    with torch.no_grad():
        kept = [p[dead].clone() for p in params]
        for p in params:
            p.grad[dead] = 0.0  # keeps Adam's moments finite
        optimizer.step()
        for p, value in zip(params, kept):
            p[dead] = value


def critic_step(critic, optimizer, real, fake, mix, config: GANConfig, alive) -> torch.Tensor:
    """One critic step of eq. 3: descend −F̂ + penalty, then project; return F̂ per run."""
    gain = objective(critic, real, fake)
    descend(optimizer, -gain + lipschitz_penalty(critic, real, fake, mix, config), alive)
    enforce_lipschitz(critic, config)
    return gain.detach()


def generator_step(generator, critic, optimizer, noise: torch.Tensor, alive) -> None:
    """One generator step of eq. 4: descend −mean d(h(ω)) per run."""
    descend(optimizer, -critic(generator(noise)).mean(dim=1), alive)


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
    diverged_at: int | None = None  # iteration whose loss, parameters or metrics were non-finite
    seconds: float = 0.0  # wall time of the loop that trained the run (snapshots included)
    stacked_with: int = 1  # runs trained together in that loop (1: alone)

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None


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
        """The last snapshot's metrics."""
        h = self.history
        names = ("modes_covered", "high_quality", "w1", "objective", "lipschitz")
        return {name: getattr(h, name)[-1] for name in names} | {"diverged": h.diverged}


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
    params = [p.detach().flatten(1) for p in (*generator.parameters(), *critic.parameters())]
    finite_params = torch.isfinite(torch.cat(params, dim=1)).all(dim=1).tolist()
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
        metrics = (record["objective"], record["w1"], record["lipschitz"])
        record["finite"] = finite_params[r] and all(math.isfinite(v) for v in metrics)
        records.append(record)
    return records


def train_stack(configs: list[GANConfig], dtype: torch.dtype = torch.float32) -> list[TrainingRun]:
    """Train runs whose configs differ only in :data:`PER_RUN_FIELDS` as one stack."""
    first, runs = configs[0], len(configs)
    if any(dataclasses.replace(c, seed=first.seed, target=first.target) != first for c in configs):
        raise ValueError(f"configs must differ only in {PER_RUN_FIELDS}")
    with cpu_threads(first.num_threads):
        targets = [make_target(c.target) for c in configs]
        boxes = [plot_box(t) for t in targets]
        streams = [RunStream(c.seed) for c in configs]
        eval_streams = [RunStream(c.seed + EVALUATION_STREAM) for c in configs]
        generator, critic = build_networks(configs, dtype)
        adam = dict(lr=first.lr, betas=first.betas, fused=True)  # the fastest Adam measured here
        opt_g = torch.optim.Adam(generator.parameters(), **adam)
        opt_d = torch.optim.Adam(critic.parameters(), **adam)
        schedules = [  # learning rate × (1 − k / iterations) at iteration k
            torch.optim.lr_scheduler.LambdaLR(opt, lambda k: max(0.0, 1 - k / first.iterations))
            for opt in ((opt_g, opt_d) if first.lr_decay else ())
        ]
        histories = [History(stacked_with=runs) for _ in configs]
        alive = torch.ones(runs, dtype=torch.bool)
        trace = torch.zeros(first.iterations, runs, dtype=dtype)
        alive_trace = torch.ones(first.iterations, runs, dtype=torch.bool)

        def take_snapshots(k: int) -> None:
            """Record every run still going; a run dead since the last snapshot ends there."""
            died = (~alive_trace[:k]).int().argmax(dim=0).tolist() if k else [0] * runs
            records = snapshot(generator, critic, targets, boxes, eval_streams, first.eval_samples)
            for r, (h, record) in enumerate(zip(histories, records)):
                if h.diverged or (k and not alive_trace[k - 1, r]):
                    if not h.diverged:
                        h.diverged_at = died[r]
                        _append(h, died[r], record)
                    continue
                _append(h, k, record)
                if not record["finite"]:
                    h.diverged_at = k
            alive.copy_(torch.tensor([not h.diverged for h in histories]))

        take_snapshots(0)
        start = time.perf_counter()
        steps = first.iterations
        for k in range(first.iterations):
            if k % BLOCK == 0:
                block = [
                    torch.stack(parts, dim=1)
                    for parts in zip(
                        *(
                            draw_block(t, first.noise_dim, first.batch_size, s, dtype)
                            for t, s in zip(targets, streams)
                        )
                    )
                ]
            real, critic_noise, generator_noise, mix = (b[k % BLOCK] for b in block)
            with torch.no_grad():  # the critic's step does not differentiate through h
                fake = generator(critic_noise)
            trace[k] = critic_step(critic, opt_d, real, fake, mix, first, alive)
            if k % first.n_critic == 0:
                generator_step(generator, critic, opt_g, generator_noise, alive)
            for schedule in schedules:
                schedule.step()
            alive_trace[k] = alive
            if (k + 1) % first.snapshot_every == 0 and k + 1 < first.iterations:
                take_snapshots(k + 1)
                if not alive.any():
                    steps = k + 1
                    break
        take_snapshots(steps)
        seconds = time.perf_counter() - start
    results = []
    for r, (config, history) in enumerate(zip(configs, histories)):
        done = steps if history.diverged_at is None else history.diverged_at
        history.critic_objective, history.seconds = trace[:done, r].tolist(), seconds
        g, d = _run_of(generator, config, r, 0), _run_of(critic, config, r, 1)
        results.append(TrainingRun(config, targets[r], g, d, history, boxes[r]))
    return results


def _append(history: History, k: int, record: dict) -> None:
    history.snapshot_iterations.append(k)
    for name in ("objective", "w1", "lipschitz", "modes_covered", "high_quality"):
        getattr(history, name).append(record[name])
    history.samples.append(record["samples"])
    history.critic_values.append(record["critic_values"])


def train_wgan(config: GANConfig, dtype: torch.dtype = torch.float32) -> TrainingRun:
    """Train one WGAN as eq. 3–4 say: a stack of one."""
    return train_stack([config], dtype)[0]
