"""The graded update rules replayed on fixed gradients, against the homework's pseudocode and
against ``torch.optim.Adam(amsgrad=True)``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from lib.optim.optimizers import AMSGrad


def amsgrad_second_moments(
    gradients: Sequence[float],
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    delta: float = 1e-8,
) -> dict[str, np.ndarray]:
    """One scalar parameter fed ``gradients`` under :class:`AMSGrad` (``ours``) and
    ``torch.optim.Adam(amsgrad=True)`` (``torch``): each one's path and the second moment it
    divides by, ours :math:`\\max_s \\hat m_{2,s}`, torch
    :math:`\\max_s m_{2,s} / (1-\\beta_2^{t})`."""
    params = {key: torch.nn.Parameter(torch.zeros(1).double()) for key in ("ours", "torch")}
    optimizers = {
        "ours": AMSGrad([params["ours"]], lr=lr, beta1=beta1, beta2=beta2, delta=delta),
        "torch": torch.optim.Adam([params["torch"]], lr, (beta1, beta2), delta, amsgrad=True),
    }
    trace = {key: [] for key in ("ours", "torch", "ours_m2", "torch_m2", "m2_hat")}
    for t, g in enumerate(gradients, start=1):
        for name, optimizer in optimizers.items():
            params[name].grad = torch.tensor([float(g)], dtype=torch.float64)
            optimizer.step()
            trace[name].append(params[name].item())
        ours_state = optimizers["ours"].state[params["ours"]]
        torch_state = optimizers["torch"].state[params["torch"]]
        trace["ours_m2"].append(ours_state["m2_max"].item())
        trace["torch_m2"].append(torch_state["max_exp_avg_sq"].item() / (1 - beta2**t))
        trace["m2_hat"].append(ours_state["m2"].item() / (1 - beta2**t))
    return {key: np.asarray(value) for key, value in trace.items()}


def plot_amsgrad_variants(trace: dict[str, np.ndarray]):
    """Second moment in the denominator (left) and parameter path (right) of both variants."""
    steps = np.arange(1, len(trace["ours"]) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    left.plot(steps, trace["m2_hat"], color="0.6", lw=1, label=r"$\hat m_2$ (Adam)")
    left.plot(steps, trace["ours_m2"], label=r"homework: $\max_s \hat m_{2,s}$")
    left.plot(steps, trace["torch_m2"], "--", label=r"torch: $\max_s m_{2,s} / (1-\beta_2^t)$")
    left.set_yscale("log")
    left.set_xlabel("step $t$")
    left.set_title("second moment in the denominator")
    left.legend(fontsize=8)
    right.plot(steps, trace["ours"], label="homework AMSGrad")
    right.plot(steps, trace["torch"], "--", label="torch Adam(amsgrad=True)")
    right.set_xlabel("step $t$")
    right.set_title(r"parameter $\theta_t$")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def replay(
    make_optimizer: Callable[[list[torch.nn.Parameter]], torch.optim.Optimizer],
    theta0: np.ndarray,
    gradients: Sequence[np.ndarray],
) -> np.ndarray:
    """The float64 parameter after every step of ``make_optimizer([param])`` (e.g.
    ``lambda params: RMSProp(params, lr=0.1)``) fed ``gradients``, one per step."""
    theta0 = np.asarray(theta0, dtype=np.float64)
    param = torch.nn.Parameter(torch.tensor(theta0, dtype=torch.float64))
    optimizer = make_optimizer([param])
    path = []
    for g in gradients:
        param.grad = torch.tensor(np.asarray(g), dtype=torch.float64)
        optimizer.step()
        path.append(param.detach().numpy().copy())
    return np.array(path)


def homework_pseudocode(
    name: str, theta0: np.ndarray, gradients: Sequence[np.ndarray], lr: float, **hyper: float
) -> np.ndarray:
    """The homework's pseudocode of ``name`` transcribed line by line in NumPy (float64): ``"SGD"``,
    ``"MomentumSGD"`` (``rho``), ``"RMSProp"`` (``tau``, ``delta``) or ``"AMSGrad"`` (``beta1``,
    ``beta2``, ``delta``). ``t`` starts at 0 as in the homework, so bias corrections use ``t + 1``.
    """
    theta = np.array(theta0, dtype=np.float64)
    zeros = np.zeros_like(theta)
    m, r, m1, m2, m2_max = zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy(), zeros.copy()
    path = []
    for t, g in enumerate(np.asarray(g, dtype=np.float64) for g in gradients):
        if name == "SGD":
            theta = theta - lr * g
        elif name == "MomentumSGD":
            m = hyper["rho"] * m + g
            theta = theta - lr * m
        elif name == "RMSProp":
            r = hyper["tau"] * r + (1 - hyper["tau"]) * g * g
            theta = theta - lr / (hyper["delta"] + np.sqrt(r)) * g
        else:
            beta1, beta2 = hyper["beta1"], hyper["beta2"]
            m1 = beta1 * m1 + (1 - beta1) * g
            m2 = beta2 * m2 + (1 - beta2) * g * g
            m1_hat, m2_hat = m1 / (1 - beta1 ** (t + 1)), m2 / (1 - beta2 ** (t + 1))
            m2_max = np.maximum(m2_max, m2_hat)
            theta = theta - lr * m1_hat / (hyper["delta"] + np.sqrt(m2_max))
        path.append(theta.copy())
    return np.array(path)
