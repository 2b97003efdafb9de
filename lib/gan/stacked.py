"""Many WGAN runs as one: the weights of R runs stacked on a run axis, one batched step for all.

The WGAN's networks (2 → 100 → 2 and 2 → 100 → 1, minibatch 200) are so small that a training
step costs the time to *dispatch* its few dozen tensor operations, not to compute them. Runs that
share their shapes (noise, widths, batch size, length, n_critic, snapshot times) therefore train
together: run r's parameters are row r of one ``(R, P)`` tensor per network, the layers are batched
products (``torch.baddbmm``), and one step costs about as many dispatches as a single run's.

What may differ between the runs of a stack is held per run: the seed (each run draws from its own
:class:`~lib.gan.sampling.RunSampler`), the target, the Lipschitz method, c, the penalty weights,
the learning rate, its decay and Adam's betas. Spectral normalisation is one power-iteration step
per run and layer; clipping clamps run r to ``[−c_r, c_r]``; the gradient penalty uses the critic's
input gradient in closed form, ``∇d(a) = Y1ᵀ (relu′(Y1 a + y1) ⊙ Y2ᵀ)`` (what double
back-propagation computes, at one product's cost). Adam is elementwise, so one Adam over the
stacked tensors is R separate Adams (:class:`StackedAdam`, with per-run hyperparameters). A run
whose loss becomes non-finite is frozen (its updates masked) while the others continue.

:func:`lib.gan.training.train_wgan` stays the readable reference: the tests check that a stacked
run ends with the parameters the reference reaches from the same draws.
"""

from __future__ import annotations

import time

import torch
from torch.nn import functional as F

from lib.config import GANConfig
from lib.gan.networks import DualVariable, Generator
from lib.gan.sampling import RunSampler, evaluation_generator
from lib.gan.targets import make_target
from lib.gan.training import (
    History,
    TrainingRun,
    build_networks,
    plot_box,
    record_snapshot,
    snapshot_due,
)
from lib.runtime import cpu_threads

_EPS = 1e-12  # as in lib.gan.networks: guards normalisations against a zero vector
_ADAM_EPS = 1e-8  # torch.optim.Adam's default
#: GANConfig fields that may differ between the runs of one stack.
PER_RUN_FIELDS = (
    "target",
    "seed",
    "lipschitz",
    "clip",
    "gp_weight",
    "sr_weight",
    "lr",
    "lr_decay",
    "betas",
)


def stack_key(config: GANConfig) -> tuple:
    """Runs with equal keys can train as one stack: every field but :data:`PER_RUN_FIELDS`."""
    return tuple(
        (name, value) for name, value in sorted(vars(config).items()) if name not in PER_RUN_FIELDS
    )


def _layer_tensors(module: Generator | DualVariable) -> tuple[torch.Tensor, ...]:
    """W1, b1, W2, b2 of a one-hidden-layer network."""
    return (module.hidden.weight, module.hidden.bias, module.output.weight, module.output.bias)


class StackedMLP:
    """R networks ``x ↦ W2 relu(W1 x + b1) + b2``, parameters in one ``(R, P)`` leaf tensor."""

    def __init__(self, modules: list[Generator] | list[DualVariable], dtype: torch.dtype, device):
        rows = [torch.cat([p.detach().reshape(-1) for p in _layer_tensors(m)]) for m in modules]
        self.flat = torch.stack(rows).to(device=device, dtype=dtype).requires_grad_(True)
        self.shapes = [p.shape for p in _layer_tensors(modules[0])]
        self.params = self._views(self.flat)  # (W1, b1, W2, b2), differentiable views
        self.data = self._views(self.flat.detach())  # the same memory, for in-place projections

    def _views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        views, start = [], 0
        for shape in self.shapes:
            size = shape.numel()
            views.append(flat[:, start : start + size].view(flat.shape[0], *shape))
            start += size
        return views

    def gradient(self, loss: torch.Tensor) -> torch.Tensor:
        """∂ loss / ∂ flat, shape (R, P), taken at the views (autograd's way back through four
        slices would zero-fill and add four (R, P) tensors)."""
        grads = torch.autograd.grad(loss, self.params)
        return torch.cat([g.reshape(g.shape[0], -1) for g in grads], dim=1)

    def pre_activation(self, x: torch.Tensor) -> torch.Tensor:
        """W1 x + b1 for x of shape (R, B, in): shape (R, B, hidden)."""
        w1, b1, _, _ = self.params
        return torch.baddbmm(b1.unsqueeze(1), x, w1.transpose(1, 2))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The R networks on their own inputs, x of shape (R, B, in): shape (R, B, out)."""
        _, _, w2, b2 = self.params
        return torch.baddbmm(
            b2.unsqueeze(1), torch.relu(self.pre_activation(x)), w2.transpose(1, 2)
        )

    def input_gradient(self, x: torch.Tensor) -> torch.Tensor:
        """∇ₓ of a one-output network at x (R, B, in), differentiable in W1 and W2."""
        w1, _, w2, _ = self.params
        active = (self.pre_activation(x) > 0).to(x.dtype)  # relu′, 0 at 0 as torch's relu
        return torch.bmm(active * w2, w1)  # w2: (R, 1, hidden) broadcast over the batch

    @torch.no_grad()
    def copy_into(self, modules: list[Generator] | list[DualVariable]) -> None:
        """Write run r's parameters into ``modules[r]`` (for snapshots and the final networks)."""
        for r, m in enumerate(modules):
            for p, stacked in zip(_layer_tensors(m), self.data):
                p.copy_(stacked[r])


class StackedAdam:
    """Adam over ``(R, P)`` tensors with a learning rate and betas per run (torch's update rule).

    Elementwise, so it is R separate ``torch.optim.Adam``; runs with ``alive`` False are not moved.
    Betas shared by every run (the usual case) are kept as Python floats, which saves the
    per-run bias-correction arithmetic at every step.
    """

    def __init__(self, flat: torch.Tensor, lr: torch.Tensor, betas: torch.Tensor):
        self.flat, self.lr = flat, lr[:, None]
        if bool((betas == betas[0]).all()):
            self.beta1, self.beta2 = (float(b) for b in betas[0])
        else:
            self.beta1, self.beta2 = betas[:, :1], betas[:, 1:]
        self.m, self.v = torch.zeros_like(flat.detach()), torch.zeros_like(flat.detach())
        self.t = 0

    @torch.no_grad()
    def step(
        self, grad: torch.Tensor, alive: torch.Tensor, lr_scale: torch.Tensor | None = None
    ) -> None:
        self.t += 1
        beta1, beta2 = self.beta1, self.beta2
        self.m.lerp_(grad, 1 - beta1)
        if isinstance(beta2, float):
            self.v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        else:
            self.v.mul_(beta2).add_((1 - beta2) * grad * grad)
        lr = self.lr if lr_scale is None else self.lr * lr_scale
        step_size = lr / (1 - beta1**self.t)
        denom = (self.v.sqrt() / (1 - beta2**self.t) ** 0.5).add_(_ADAM_EPS)
        update = self.m / denom * step_size
        self.flat.sub_(torch.where(alive[:, None], update, 0.0))


@torch.no_grad()
def power_iteration(weights: torch.Tensor, u: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """One power-iteration step per run (weights (R, out, in), u (R, out)); σ̂ per run.

    u is updated in place where ``active``; a zero weight keeps its u (as in lib.gan.networks).
    """
    v = F.normalize(torch.bmm(weights.transpose(1, 2), u.unsqueeze(2)).squeeze(2), dim=1, eps=_EPS)
    wv = torch.bmm(weights, v.unsqueeze(2)).squeeze(2)
    norm = wv.norm(dim=1, keepdim=True)
    new_u = torch.where((norm > _EPS) & active[:, None], wv / norm.clamp_min(_EPS), u)
    u.copy_(new_u)
    return (u * wv).sum(dim=1)


def _per_run(values, dtype, device) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, device=device)


class StackedWGAN:
    """R WGAN runs of equal shapes as one stacked generator and critic, with their optimizers."""

    def __init__(
        self,
        configs: list[GANConfig],
        generators: list[Generator],
        critics: list[DualVariable],
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ):
        if len({stack_key(c) for c in configs}) != 1:
            raise ValueError("configs must share every field but " + ", ".join(PER_RUN_FIELDS))
        self.configs = configs
        self.generator = StackedMLP(generators, dtype, device)
        self.critic = StackedMLP(critics, dtype, device)
        self.u = [
            torch.stack([getattr(c, f"u_{name}") for c in critics]).to(device=device, dtype=dtype)
            for name in ("hidden", "output")
        ]
        method = [c.lipschitz for c in configs]
        self.normalise = _per_run(
            [m == "spectral_normalisation" for m in method], torch.bool, device
        )
        self.regularise = _per_run(
            [m == "spectral_regularisation" for m in method], torch.bool, device
        )
        self.power_steps = self.normalise | self.regularise
        self.gp_weight = _per_run(
            [c.gp_weight if m == "gradient_penalty" else 0.0 for c, m in zip(configs, method)],
            dtype,
            device,
        )
        self.sr_weight = _per_run(
            [
                c.sr_weight if m == "spectral_regularisation" else 0.0
                for c, m in zip(configs, method)
            ],
            dtype,
            device,
        )
        self.clip = _per_run(
            [[c.clip if m == "weight_clipping" else float("inf")] for c, m in zip(configs, method)],
            dtype,
            device,
        )
        self.uses = {
            m: m in method
            for m in (
                "spectral_normalisation",
                "spectral_regularisation",
                "weight_clipping",
                "gradient_penalty",
            )
        }
        lr = _per_run([c.lr for c in configs], dtype, device)
        betas = _per_run([list(c.betas) for c in configs], dtype, device)
        self.opt_g = StackedAdam(self.generator.flat, lr, betas)
        self.opt_d = StackedAdam(self.critic.flat, lr, betas)
        self.decay = _per_run([[float(c.lr_decay)] for c in configs], dtype, device)
        self.alive = torch.ones(len(configs), dtype=torch.bool, device=device)

    def lr_scale(self, k: int) -> torch.Tensor | None:
        """Learning-rate factor of iteration k per run, (R, 1): 1 − k/iterations where decayed."""
        if not self.decay.any():
            return None
        return 1 - self.decay * min(1.0, k / self.configs[0].iterations)

    def critic_step(
        self, real: torch.Tensor, fake: torch.Tensor, mix: torch.Tensor, k: int = 0
    ) -> torch.Tensor:
        """One critic step of every live run (eq. 3 and its projection); returns F̂ per run, (R,)."""
        batch = real.shape[1]
        values = self.critic(torch.cat([real, fake], dim=1)).squeeze(2)
        gain = values[:, :batch].mean(dim=1) - values[:, batch:].mean(dim=1)
        loss = -gain
        if self.uses["gradient_penalty"]:
            mixed = mix * real + (1 - mix) * fake
            slope = self.critic.input_gradient(mixed).norm(dim=2)
            loss = loss + self.gp_weight * ((slope - 1.0) ** 2).mean(dim=1)
        if self.uses["spectral_regularisation"]:
            loss = loss + self.sr_weight * 0.5 * sum(s**2 for s in self.sigma_estimates())
        grad = self.critic.gradient(loss.sum())
        self.alive &= torch.isfinite(loss)
        self.opt_d.step(grad, self.alive, self.lr_scale(k))
        self.project()
        return gain.detach()

    def sigma_estimates(self) -> list[torch.Tensor]:
        """σ̂ = uᵀWv per run and weight, differentiable in W (u, v fixed): the regulariser's σ̂."""
        sigmas = []
        for w, u in zip((self.critic.params[0], self.critic.params[2]), self.u):
            with torch.no_grad():
                v = F.normalize(
                    torch.bmm(w.transpose(1, 2), u.unsqueeze(2)).squeeze(2), dim=1, eps=_EPS
                )
            sigmas.append((u * torch.bmm(w, v.unsqueeze(2)).squeeze(2)).sum(dim=1))
        return sigmas

    @torch.no_grad()
    def project(self) -> None:
        """Each run's "clip" of eq. 3: normalise, clamp, or only track u (regularised runs)."""
        if self.uses["spectral_normalisation"] or self.uses["spectral_regularisation"]:
            for w, u in zip((self.critic.data[0], self.critic.data[2]), self.u):
                sigma = power_iteration(w, u, self.power_steps & self.alive)
                if self.uses["spectral_normalisation"]:
                    divide = self.normalise & self.alive & (sigma > 0)
                    w.div_(torch.where(divide, sigma, torch.ones_like(sigma))[:, None, None])
        if self.uses["weight_clipping"]:
            self.critic.flat.detach().clamp_(-self.clip, self.clip)

    def generator_step(self, noise: torch.Tensor, k: int = 0) -> None:
        """One generator step of every live run (eq. 4) against the current critic."""
        loss = -self.critic(self.generator(noise)).squeeze(2).mean(dim=1)
        grad = self.generator.gradient(loss.sum())
        self.alive &= torch.isfinite(loss)
        self.opt_g.step(grad, self.alive, self.lr_scale(k))

    @torch.no_grad()
    def unstack(self, generators: list[Generator], critics: list[DualVariable]) -> None:
        """Copy every run's parameters and singular vectors into its own modules."""
        self.generator.copy_into(generators)
        self.critic.copy_into(critics)
        for r, critic in enumerate(critics):
            critic.u_hidden.copy_(self.u[0][r])
            critic.u_output.copy_(self.u[1][r])


def _stacked_draws(samplers: list[RunSampler], k: int) -> list[torch.Tensor]:
    """The block of iterations holding k for every run, as (block, R, batch, ·) tensors."""
    return [torch.stack(parts, dim=1) for parts in zip(*(s.blocks(k) for s in samplers))]


def train_stacked(
    configs: list[GANConfig], dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu"
) -> list[TrainingRun]:
    """Train runs of one :func:`stack_key` as one stack: the runs :func:`train_wgan` gives."""
    if not configs:
        return []
    first = configs[0]
    with cpu_threads(first.num_threads):
        targets = [make_target(c.target) for c in configs]
        networks = [build_networks(c, dtype) for c in configs]
        generators, critics = [g for g, _ in networks], [d for _, d in networks]
        stack = StackedWGAN(configs, generators, critics, dtype, device)
        samplers = [
            RunSampler(t, first.noise_dim, first.batch_size, c.seed, device, dtype)
            for t, c in zip(targets, configs)
        ]
        eval_draws = [evaluation_generator(c.seed) for c in configs]
        boxes = [plot_box(t) for t in targets]
        histories = [History(stacked_with=len(configs)) for _ in configs]
        trace = torch.zeros(first.iterations, len(configs), dtype=dtype, device=device)
        alive_trace = torch.ones(first.iterations, len(configs), dtype=torch.bool, device=device)
        finished = [False] * len(configs)

        def snapshots(k: int) -> None:
            """Snapshot every unfinished run; a run that died since the last one ends there."""
            stack.unstack(generators, critics)
            alive = stack.alive.tolist()
            died = (~alive_trace[:k]).float().argmax(dim=0).tolist() if k else [0] * len(configs)
            for r, c in enumerate(configs):
                if finished[r]:
                    continue
                at = k if alive[r] else died[r]
                taken = histories[r].snapshot_iterations  # a run that died at a snapshot has it
                ok = (taken and taken[-1] == at) or record_snapshot(
                    histories[r],
                    at,
                    generators[r],
                    critics[r],
                    targets[r],
                    boxes[r],
                    c.eval_samples,
                    eval_draws[r],
                )
                if not alive[r] or not ok:
                    histories[r].diverged_at = at
                    finished[r] = True
            stack.alive &= torch.tensor([not f for f in finished], device=device)

        snapshots(0)
        start = time.perf_counter()
        steps = first.iterations
        for k in range(first.iterations):
            if k % samplers[0].block == 0:
                block = _stacked_draws(samplers, k)
            real, critic_noise, generator_noise, mix = (b[k % samplers[0].block] for b in block)
            with torch.no_grad():
                fake = stack.generator(critic_noise)
            trace[k] = stack.critic_step(real, fake, mix, k)
            if k % first.n_critic == 0:
                stack.generator_step(generator_noise, k)
            alive_trace[k] = stack.alive
            if snapshot_due(k, first):
                snapshots(k + 1)
                if all(finished):
                    steps = k + 1
                    break
        snapshots(steps)
        seconds = time.perf_counter() - start
        stack.unstack(generators, critics)
        for r, history in enumerate(histories):
            done = history.diverged_at if history.diverged_at is not None else steps
            history.critic_objective = trace[:done, r].tolist()
            history.seconds = seconds
    return [
        TrainingRun(c, t, g, d, h, b)
        for c, t, g, d, h, b in zip(configs, targets, generators, critics, histories, boxes)
    ]
