"""Optimizer step time: each hand-written optimizer against its ``torch.optim`` counterpart.

Every contender owns a copy of the MNIST model's parameters with the same fixed gradients and
takes ``steps`` steps per timing. Four contenders per optimizer, timed in alternation:

* ``ours``: :mod:`lib.optim.optimizers` with its default path (``foreach=None``);
* ``torch``: the ``torch.optim`` counterpart with its default path (``foreach=None``: the
  multi-tensor ``torch._foreach_*`` kernels on a GPU, a loop over the parameters on a CPU);
* ``ours_foreach`` and ``torch_foreach``: both forced onto the multi-tensor path.

The counterpart takes the hand-written optimizer's hyperparameters under torch's names.
``AMSGrad`` is compared with ``torch.optim.Adam(amsgrad=True)``, which keeps the maximum of the
raw second moment rather than of the bias-corrected one: the same work, a different variant.
"""

from __future__ import annotations

import torch

from benchmarks.timing import fastest, interleaved
from lib.config import BenchmarkConfig, OptimizerGridConfig
from lib.mnist.training import make_mlp, make_optimizer
from lib.optim.optimizers import OPTIMIZER_CLASSES

#: The issue's target: a hand-written step at most this many times torch's.
TARGET_RATIO = 1.2
LR = 1e-3  # small enough that thousands of steps on fixed gradients stay finite


def torch_counterpart(name: str, params, hyper: dict, foreach: bool | None) -> torch.optim.Optimizer:
    """The ``torch.optim`` optimizer computing the same update as ``lib.optim.optimizers.<name>`` with
    hyperparameters ``hyper`` (the hand-written optimizer's ``defaults``)."""
    lr = hyper["lr"]
    if name == "SGD":
        return torch.optim.SGD(params, lr=lr, foreach=foreach)
    if name == "MomentumSGD":
        return torch.optim.SGD(params, lr=lr, momentum=hyper["rho"], foreach=foreach)
    if name == "RMSProp":
        return torch.optim.RMSprop(params, lr=lr, alpha=hyper["tau"], eps=hyper["delta"],
                                   foreach=foreach)
    if name == "Adagrad":
        return torch.optim.Adagrad(params, lr=lr, eps=hyper["delta"], foreach=foreach)
    if name in ("Adam", "AMSGrad"):
        return torch.optim.Adam(params, lr=lr, betas=(hyper["beta1"], hyper["beta2"]),
                                eps=hyper["delta"], amsgrad=name == "AMSGrad", foreach=foreach)
    raise ValueError(f"name must be one of {sorted(OPTIMIZER_CLASSES)}, got {name!r}")


def _parameters_with_gradients(template: list[torch.Tensor],
                               gradients: list[torch.Tensor]) -> list[torch.Tensor]:
    params = [p.detach().clone().requires_grad_(True) for p in template]
    for p, g in zip(params, gradients):
        p.grad = g.clone()
    return params


def _stepper(optimizer: torch.optim.Optimizer, steps: int):
    def run() -> None:
        for _ in range(steps):
            optimizer.step()
    return run


def measure_optimizer(name: str, config: BenchmarkConfig, grid: OptimizerGridConfig,
                      device: torch.device) -> dict:
    """Fastest seconds per step of the four contenders for the optimizer ``name``."""
    model = make_mlp(grid.hidden_dim).to(device)
    template = [p.detach() for p in model.parameters()]
    generator = torch.Generator().manual_seed(0)
    gradients = [torch.randn(p.shape, generator=generator).mul_(1e-2).to(device)
                 for p in template]
    contenders = {}
    for label, foreach in (("ours", None), ("torch", None), ("ours_foreach", True),
                           ("torch_foreach", True)):
        params = _parameters_with_gradients(template, gradients)
        if label.startswith("ours"):
            optimizer = make_optimizer(name, params, LR, foreach=foreach)
        else:
            hyper = make_optimizer(name, [torch.zeros(1)], LR).defaults
            optimizer = torch_counterpart(name, params, hyper, foreach)
        _stepper(optimizer, 3)()  # creates the state and warms the kernels up
        contenders[label] = _stepper(optimizer, config.optimizer_steps)
    seconds = fastest(interleaved(contenders, config.repeats, device))
    per_step = {label: value / config.optimizer_steps for label, value in seconds.items()}
    return {
        "optimizer": name,
        "parameters": sum(p.numel() for p in template),
        "tensors": len(template),
        "seconds_per_step": per_step,
        "ratio": per_step["ours"] / per_step["torch"],
        "ratio_foreach": per_step["ours_foreach"] / per_step["torch_foreach"],
        "target": TARGET_RATIO,
    }


def measure_optimizers(config: BenchmarkConfig, grid: OptimizerGridConfig,
                       device: torch.device) -> list[dict]:
    """:func:`measure_optimizer` for every optimizer of the grid."""
    return [measure_optimizer(name, config, grid, device) for name in grid.optimizers]
