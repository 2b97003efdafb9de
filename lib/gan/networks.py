"""The two networks of the WGAN (homework §1.2, eq. 1) and the ways to keep the critic Lipschitz.

* :class:`Generator` — :math:`h_x(\\omega) = X_2\\,\\mathrm{relu}(X_1\\omega + x_1) + x_2`.
* :class:`DualVariable` — the critic :math:`d_y(a) = Y_2\\,\\mathrm{relu}(Y_1 a + y_1) + y_2`, with
  :meth:`DualVariable.enforce_lipschitz`, the projection ("clip") of eq. 3.

Spectral normalisation follows Miyato et al. (2018, Algorithm 1): every weight matrix :math:`W`
keeps a left singular vector estimate :math:`u` as a *buffer* (saved with the module, never
trained); each call runs one power-iteration step

.. math:: v \\leftarrow W^\\top u / \\|W^\\top u\\|,\\quad u \\leftarrow W v / \\|W v\\|,\\quad
          \\hat\\sigma(W) = u^\\top W v,

and rewrites the weight in place, ``W ← W / σ̂`` (a zero weight, σ̂ = 0, is left as it is rather
than turned into NaN; its ``u`` is kept). Because the weight changes only a little
between two optimiser steps, one step per call is enough for :math:`u` to track the top singular
vector (the argument of the paper).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from lib.validation import check_choice, check_int, check_number

LIPSCHITZ_METHODS = (
    "spectral_normalisation",  # W <- W / sigma(W) after every critic step (Miyato et al. 2018)
    "spectral_regularisation",  # penalty (lambda/2) sum sigma(W)^2 (Yoshida & Miyato 2017)
    "weight_clipping",  # every parameter clamped to [-c, c] (Arjovsky et al. 2017)
    "gradient_penalty",  # penalty lambda E(|grad d| - 1)^2 (Gulrajani et al. 2017)
)

INITIAL_POWER_STEPS = 15  # power-iteration steps run once when the critic is built
_EPS = 1e-12  # guards the normalisations against a zero vector, as torch's spectral_norm does


def _check_positive_int(name: str, value) -> int:
    return check_int(name, value, minimum=1)


def check_lipschitz_method(lipschitz: str) -> str:
    """Return ``lipschitz`` if it names one of :data:`LIPSCHITZ_METHODS`, else raise ValueError."""
    return check_choice("lipschitz", lipschitz, LIPSCHITZ_METHODS)


def check_input(x: torch.Tensor, dim: int, name: str = "x") -> None:
    """Raise ValueError unless ``x`` is a ``(batch, dim)`` tensor."""
    if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != dim:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must have shape (batch, {dim}), got {shape}")


@torch.no_grad()
def power_iteration(weight: torch.Tensor, u: torch.Tensor, n_steps: int = 1) -> torch.Tensor:
    """Run ``n_steps`` power-iteration steps on ``weight`` (in place on ``u``); return σ̂ = uᵀWv.

    ``weight`` has shape ``(out, in)`` and ``u`` shape ``(out,)``. ``u`` is overwritten with the
    new estimate of the top left singular vector; the weight is not changed.
    """
    if weight.ndim != 2:
        raise ValueError(f"weight must be a matrix, got shape {tuple(weight.shape)}")
    if u.shape != (weight.shape[0],):
        raise ValueError(f"u must have shape ({weight.shape[0]},), got {tuple(u.shape)}")
    _check_positive_int("n_steps", n_steps)
    for _ in range(n_steps):
        v = F.normalize(weight.t() @ u, dim=0, eps=_EPS)
        wv = weight @ v
        norm = wv.norm()
        # A zero weight gives W v = 0: keep the old u (a zero u would stay zero forever after).
        u.copy_(torch.where(norm > _EPS, wv / norm.clamp_min(_EPS), u))
    return u @ weight @ v


def sigma_estimate(weight: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """σ̂(W) = uᵀ W v with v = Wᵀu/‖Wᵀu‖, differentiable in ``weight`` (u and v held fixed).

    Its gradient is u vᵀ, the gradient of the exact σ(W) at the top singular pair: this is what
    spectral-norm *regularisation* back-propagates.
    """
    with torch.no_grad():
        v = F.normalize(weight.t() @ u, dim=0, eps=_EPS)
    return u @ weight @ v


class Generator(nn.Module):
    """h_x(ω) = X2 relu(X1 ω + x1) + x2: pushes noise in R^noise_dim to samples in R^output_dim."""

    def __init__(self, noise_dim: int = 2, output_dim: int = 2, hidden_dim: int = 100):
        super().__init__()
        self.noise_dim = _check_positive_int("noise_dim", noise_dim)
        self.output_dim = _check_positive_int("output_dim", output_dim)
        self.hidden_dim = _check_positive_int("hidden_dim", hidden_dim)
        self.hidden = nn.Linear(noise_dim, hidden_dim)  # X1, x1
        self.output = nn.Linear(hidden_dim, output_dim)  # X2, x2

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        check_input(noise, self.noise_dim, "noise")
        return self.output(torch.relu(self.hidden(noise)))


class DualVariable(nn.Module):
    """The critic d_y(a) = Y2 relu(Y1 a + y1) + y2 and its Lipschitz constraint.

    Args:
        input_dim: dimension of the samples.
        hidden_dim: width of the hidden layer.
        c: weight-clipping constant (used by :meth:`weight_clipping`).
        lipschitz: what :meth:`enforce_lipschitz` does — ``"spectral_normalisation"`` (default)
            or ``"weight_clipping"`` project the weights; ``"spectral_regularisation"`` and
            ``"gradient_penalty"`` act through a penalty in the loss (see
            :func:`lib.gan.training.lipschitz_penalty`), so the projection does nothing for them.
    """

    def __init__(
        self,
        input_dim: int = 2,
        hidden_dim: int = 100,
        c: float = 1e-2,
        lipschitz: str = "spectral_normalisation",
    ):
        super().__init__()
        self.input_dim = _check_positive_int("input_dim", input_dim)
        self.hidden_dim = _check_positive_int("hidden_dim", hidden_dim)
        check_number("c", c, 0.0, strict_minimum=True)  # finite too: clamping to ±inf clips nothing
        self.c = float(c)
        self.lipschitz = check_lipschitz_method(lipschitz)
        self.hidden = nn.Linear(input_dim, hidden_dim)  # Y1, y1
        self.output = nn.Linear(hidden_dim, 1)  # Y2, y2
        # One left singular vector per weight matrix: a buffer, so autograd never sees it, the
        # optimiser never updates it, and state_dict() saves it. Random unit vectors at start,
        # refined by INITIAL_POWER_STEPS steps so that the first σ̂ is already accurate (torch's
        # spectral_norm does the same with 15 steps).
        for name, layer in self.named_layers():
            u = F.normalize(torch.randn(layer.weight.shape[0]), dim=0, eps=_EPS)
            power_iteration(layer.weight.data, u, INITIAL_POWER_STEPS)
            self.register_buffer(f"u_{name}", u)

    def named_layers(self):
        """The two linear layers, as ``(name, layer)`` pairs."""
        return (("hidden", self.hidden), ("output", self.output))

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """The critic's value at each row of ``a``, shape ``(batch,)``."""
        check_input(a, self.input_dim, "a")
        return self.output(torch.relu(self.hidden(a))).squeeze(-1)

    @torch.no_grad()
    def spectral_normalisation(self) -> list[torch.Tensor]:
        """One power-iteration step per weight, then W ← W / σ̂(W) in place; returns the σ̂s.

        A weight with σ̂ = 0 (all zeros) is left unchanged. The σ̂s stay tensors: reading them
        as floats would stop the training loop at every step to wait for the value.
        """
        sigmas = []
        for name, layer in self.named_layers():
            sigma = power_iteration(layer.weight.data, getattr(self, f"u_{name}"))
            layer.weight.data.div_(torch.where(sigma > 0, sigma, torch.ones_like(sigma)))
            sigmas.append(sigma)
        return sigmas

    @torch.no_grad()
    def weight_clipping(self) -> None:
        """Clamp every parameter (weights and biases) to [−c, c]."""
        for p in self.parameters():
            p.data.clamp_(-self.c, self.c)

    def spectral_norms(self) -> list[torch.Tensor]:
        """σ̂ of each weight with the current u (differentiable; no power-iteration step)."""
        return [
            sigma_estimate(layer.weight, getattr(self, f"u_{name}"))
            for name, layer in self.named_layers()
        ]

    @torch.no_grad()
    def exact_spectral_norms(self) -> list[float]:
        """Exact largest singular value of each weight (by SVD)."""
        return [
            float(torch.linalg.matrix_norm(layer.weight, 2)) for _, layer in self.named_layers()
        ]

    def lipschitz_bound(self) -> float:
        """∏ σ(W_l): an upper bound on the critic's Lipschitz constant (relu is 1-Lipschitz)."""
        bound = 1.0
        for sigma in self.exact_spectral_norms():
            bound *= sigma
        return bound

    @torch.no_grad()
    def update_singular_vectors(self) -> None:
        """One power-iteration step on every weight without changing it (for the regulariser)."""
        for name, layer in self.named_layers():
            power_iteration(layer.weight.data, getattr(self, f"u_{name}"))

    def enforce_lipschitz(self) -> None:
        """The "clip" of eq. 3: project the weights as the chosen method says (in place)."""
        if self.lipschitz == "spectral_normalisation":
            self.spectral_normalisation()
        elif self.lipschitz == "weight_clipping":
            self.weight_clipping()
        elif self.lipschitz == "spectral_regularisation":
            # Keep u tracking the top singular vector; the constraint itself is the penalty.
            self.update_singular_vectors()
        # gradient_penalty: nothing to project, the penalty acts through the loss.
