"""The two networks of the WGAN (homework §1.2, eq. 1), each holding R runs at once.

* :class:`Generator` — :math:`h_x(\\omega) = X_2\\,\\mathrm{relu}(X_1\\omega + x_1) + x_2`;
* :class:`DualVariable` — the critic :math:`d_y(a) = Y_2\\,\\mathrm{relu}(Y_1 a + y_1) + y_2`;

with ``depth`` hidden layers of width ``hidden_dim`` (depth 1 is the homework's). Every layer is
a :class:`Linear` with a leading *run* axis: run r's weight is ``weight[r]``, inputs have shape
``(R, batch, in)`` and one batched product (``torch.baddbmm``) applies every run's layer to its
own batch. A single run is R = 1; a stack of R runs costs about one run's dispatches. No operation
mixes runs, so a run's numbers do not depend on its neighbours up to float rounding (a batched
product may sum in another order for another R), and each run is initialised from its own seed
(:func:`reset_runs`).

Spectral normalisation is Miyato et al.'s (2018) Algorithm 1, with the logic of
``torch.nn.utils.parametrizations.spectral_norm``: each critic weight keeps an estimate ``u`` of
its top left singular vector as a buffer (saved with the module, never trained); each call runs one
power-iteration step

.. math:: v \\leftarrow W^\\top u / \\|W^\\top u\\|,\\quad u \\leftarrow W v / \\|W v\\|,\\quad
          \\hat\\sigma(W) = u^\\top W v,

and rewrites the weight in place, ``W ← W / σ̂``. The weight changes little between two critic
steps, so one step per call keeps ``u`` on the top singular vector (the paper's argument). ``@``
and ``.mT`` act on every run at once, ``u`` being a column (R, out, 1); the generator has none.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

INITIAL_POWER_STEPS = 15  # power-iteration steps when a run is initialised (as torch's 15)
_EPS = 1e-12  # guards the normalisations against a zero vector, as torch's spectral_norm does


class Linear(nn.Module):
    """R affine maps ``x ↦ W x + b``: weight (R, out, in), bias (R, out); with ``power_vector``
    also the buffer u (R, out, 1) of spectral normalisation (None without)."""

    def __init__(self, runs: int, in_features: int, out_features: int, power_vector: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(runs, out_features, in_features))
        self.bias = nn.Parameter(torch.empty(runs, out_features))
        self.register_buffer("u", torch.empty(runs, out_features, 1) if power_vector else None)
        for r in range(runs):
            self.reset_run(r)

    @torch.no_grad()
    def reset_run(self, r: int, generator: torch.Generator | None = None) -> None:
        """Draw run r's weight and bias as ``nn.Linear`` does, uniform on ±1/√in, and its ``u``
        (if any) as a random unit vector refined by :data:`INITIAL_POWER_STEPS` steps (so that the
        first σ̂ is already accurate), from ``generator`` (torch's global one when None)."""
        bound = 1 / math.sqrt(self.weight.shape[2])
        for p in (self.weight, self.bias):
            p[r] = torch.rand(p.shape[1:], generator=generator) * (2 * bound) - bound
        if self.u is not None:
            self.u[r] = F.normalize(torch.randn(self.u.shape[1:], generator=generator), dim=0)
            power_iteration(self.weight[r : r + 1], self.u[r : r + 1], INITIAL_POWER_STEPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x of shape (R, batch, in) → (R, batch, out)."""
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.mT)


def _layers(runs: int, dims: list[int], power_vector: bool = False) -> nn.ModuleList:
    return nn.ModuleList(Linear(runs, a, b, power_vector) for a, b in itertools.pairwise(dims))


class Generator(nn.Module):
    """h_x(ω) = X2 relu(X1 ω + x1) + x2 (with ``depth`` hidden layers), for R runs at once."""

    def __init__(self, runs=1, noise_dim=2, output_dim=2, hidden_dim=100, depth=1):
        super().__init__()
        self.layers = _layers(runs, [noise_dim] + [hidden_dim] * depth + [output_dim])

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        """Noise of shape (R, batch, noise_dim) → samples (R, batch, output_dim)."""
        x = noise
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x)


class DualVariable(nn.Module):
    """The critic d_y(a) = Y2 relu(Y1 a + y1) + y2 (``depth`` hidden layers), for R runs at once,
    and the projections that keep it Lipschitz (the "clip" of eq. 3)."""

    def __init__(self, runs=1, input_dim=2, hidden_dim=100, depth=1):
        super().__init__()
        self.layers = _layers(runs, [input_dim] + [hidden_dim] * depth + [1], power_vector=True)

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """Points of shape (R, batch, input_dim) → the critic's values (R, batch)."""
        x = a
        for layer in self.layers[:-1]:
            x = torch.relu(layer(x))
        return self.layers[-1](x).squeeze(-1)

    @torch.no_grad()
    def spectral_normalisation(self) -> None:
        """One power-iteration step per weight, then W ← W / σ̂(W) in place, run by run."""
        for layer in self.layers:
            layer.weight.div_(power_iteration(layer.weight, layer.u))

    @torch.no_grad()
    def weight_clipping(self, c: float) -> None:
        """Clamp every parameter (weights and biases) to [−c, c]."""
        for p in self.parameters():
            p.clamp_(-c, c)

    @torch.no_grad()
    def update_singular_vectors(self) -> None:
        """One power-iteration step per weight, weights unchanged (the regulariser's σ̂)."""
        for layer in self.layers:
            power_iteration(layer.weight, layer.u)

    def spectral_norms(self) -> list[torch.Tensor]:
        """σ̂ = uᵀWv per weight, shape (R,), differentiable in W with u and v held fixed: its
        gradient u vᵀ is that of the exact σ(W) at the top singular pair."""
        sigmas = []
        for layer in self.layers:
            W, u = layer.weight, layer.u
            with torch.no_grad():
                v = F.normalize(W.mT @ u, dim=1, eps=_EPS)
            sigmas.append((u.mT @ W @ v).flatten())
        return sigmas

    @torch.no_grad()
    def exact_spectral_norms(self) -> torch.Tensor:
        """Exact largest singular value of each weight by SVD, shape (layers, R)."""
        return torch.stack([torch.linalg.matrix_norm(layer.weight, ord=2) for layer in self.layers])


@torch.no_grad()
def power_iteration(W: torch.Tensor, u: torch.Tensor, n_steps: int = 1) -> torch.Tensor:
    """Miyato et al.'s Algorithm 1 for every run of ``W`` (R, out, in): ``n_steps`` steps that
    update ``u`` (R, out, 1) in place; returns σ̂ = uᵀWv, shape (R, 1, 1). W is not changed."""
    for _ in range(n_steps):
        v = F.normalize(W.mT @ u, dim=1, eps=_EPS)
        u.copy_(F.normalize(W @ v, dim=1, eps=_EPS))
    return u.mT @ W @ v


@torch.no_grad()
def reset_runs(module: nn.Module, seeds: Sequence[int]) -> None:
    """Initialise run r of every :class:`Linear` of ``module`` from ``seeds[r]`` alone."""
    layers = [m for m in module.modules() if isinstance(m, Linear)]
    for r, seed in enumerate(seeds):
        generator = torch.Generator().manual_seed(seed)
        for layer in layers:
            layer.reset_run(r, generator)
