r"""Hand-written first-order optimizers (homework §2): SGD, heavy-ball momentum, RMSProp, AMSGrad,
and, beyond the homework, Adagrad and Adam.

Every class is a :class:`torch.optim.Optimizer`: parameters live in ``param_groups``, per-parameter
state in ``self.state[p]`` (created lazily at the first step), so ``zero_grad``, ``state_dict`` and
``load_state_dict`` come from the base class. Notation follows the homework: :math:`\gamma` is the
learning rate, :math:`g_t` the minibatch gradient, :math:`\delta` the damping added to the
denominator of the adaptive methods, all operations on vectors are element-wise.

Each update has two implementations that compute the same thing:

* a readable loop over the parameters (``foreach=False``), the reference;
* a multi-tensor path built on ``torch._foreach_*`` kernels (``foreach=True``), which launches one
  kernel per operation for all parameters at once. ``foreach=None`` (the default) follows
  ``torch.optim``: multi-tensor when every parameter lives on a GPU, the loop otherwise (on a CPU
  the loop is as fast, see the tests and the book).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import torch
from torch.optim import Optimizer

from lib.validation import FLOAT32_MAX

__all__ = ["SGD", "MomentumSGD", "RMSProp", "AMSGrad", "Adagrad", "Adam", "OPTIMIZER_CLASSES"]


def check_lr(lr: Any, name: str = "lr") -> float:
    """``lr`` if it is a number in [0, float32 max]: larger rates overflow in a float32 step."""
    if not _is_real(lr) or not math.isfinite(lr) or not 0 <= lr <= FLOAT32_MAX:
        raise ValueError(f"Invalid learning rate: {name}={lr!r} (must be a number in [0, {FLOAT32_MAX:.4g}])")
    return float(lr)


_check_lr = check_lr


def _check_unit_interval(name: str, value: Any) -> None:
    """``value`` must lie in [0, 1): a decay rate or a momentum coefficient."""
    if not _is_real(value) or not 0.0 <= value < 1.0:
        raise ValueError(f"Invalid {name}: {name}={value!r} (must be in [0, 1))")


def _check_delta(delta: Any) -> None:
    # Strictly positive: a parameter whose gradient is exactly zero (a dead ReLU unit) has a zero
    # second moment, and 0 / (0 + 0) would be NaN.
    if not _is_real(delta) or not math.isfinite(delta) or delta <= 0:
        raise ValueError(f"Invalid delta: delta={delta!r} (must be a finite number > 0)")


def _check_foreach(foreach: Any) -> None:
    if foreach is not None and not isinstance(foreach, bool):
        raise ValueError(f"Invalid foreach: foreach={foreach!r} (must be None, True or False)")


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _use_foreach(foreach: bool | None, params: list[torch.Tensor]) -> bool:
    """Resolve ``foreach=None`` the way ``torch.optim`` does: multi-tensor only on GPUs."""
    if foreach is not None:
        return foreach
    return all(p.device.type == "cuda" for p in params)


class _HandWrittenOptimizer(Optimizer):
    """Shared ``step``: gathers the parameters that have a gradient, creates missing state,
    counts steps and hands the tensors to the subclass's single- or multi-tensor update."""

    # Names of the state tensors a subclass keeps per parameter, created as zeros.
    _state_names: tuple[str, ...] = ()

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("foreach", None)

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one update of every parameter that has a gradient; return ``closure()``."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = []
            for p in params:
                if p.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                grads.append(p.grad)
            states = [self._state_of(p) for p in params]
            for state in states:
                state["step"] += 1
            buffers = {name: [s[name] for s in states] for name in self._state_names}
            steps = [s["step"] for s in states]
            if _use_foreach(group["foreach"], params):
                self._multi_tensor_update(group, params, grads, buffers, steps)
            else:
                self._single_tensor_update(group, params, grads, buffers, steps)
        return loss

    def _state_of(self, p: torch.Tensor) -> dict:
        state = self.state[p]
        if not state:
            state["step"] = 0  # a Python int: load_state_dict keeps it as it is
            for name in self._state_names:
                state[name] = torch.zeros_like(p, memory_format=torch.preserve_format)
        return state

    def _single_tensor_update(self, group, params, grads, buffers, steps) -> None:
        raise NotImplementedError

    def _multi_tensor_update(self, group, params, grads, buffers, steps) -> None:
        raise NotImplementedError


class SGD(_HandWrittenOptimizer):
    r"""Vanilla minibatch stochastic gradient descent.

    .. math::
        \textbf{input: } \gamma \text{ (lr)}, \theta_0 \\
        \textbf{for } t = 0, 1, \dots: \quad
        \theta_{t+1} \leftarrow \theta_t - \gamma\, g_t

    Equals ``torch.optim.SGD(params, lr)`` (no momentum, no weight decay).

    Args:
        params: parameters or parameter groups to optimise.
        lr: learning rate :math:`\gamma \ge 0`.
        foreach: ``True`` multi-tensor path, ``False`` loop, ``None`` chosen by device.
    """

    def __init__(self, params: Iterable, lr: float, *, foreach: bool | None = None) -> None:
        _check_lr(lr)
        _check_foreach(foreach)
        super().__init__(params, {"lr": lr, "foreach": foreach})

    def _single_tensor_update(self, group, params, grads, buffers, steps) -> None:
        for p, g in zip(params, grads):
            p.add_(g, alpha=-group["lr"])

    def _multi_tensor_update(self, group, params, grads, buffers, steps) -> None:
        torch._foreach_add_(params, grads, alpha=-group["lr"])


class MomentumSGD(_HandWrittenOptimizer):
    r"""Minibatch SGD with heavy-ball momentum (Polyak, 1964).

    .. math::
        \textbf{input: } \gamma \text{ (lr)}, \rho \text{ (rho)}; \quad m_0 \leftarrow 0 \\
        \textbf{for } t = 0, 1, \dots: \quad
        m_{t+1} \leftarrow \rho\, m_t + g_t, \qquad
        \theta_{t+1} \leftarrow \theta_t - \gamma\, m_{t+1}

    Variant: the gradient enters the buffer undamped (weight 1, not :math:`1-\rho`) and the
    learning rate multiplies the buffer, as in ``torch.optim.SGD(lr, momentum=rho, dampening=0)``,
    whose first step also gives :math:`m_1 = g_0`.

    Args:
        params: parameters or parameter groups to optimise.
        lr: learning rate :math:`\gamma \ge 0`.
        rho: momentum coefficient in :math:`[0, 1)`.
        foreach: ``True`` multi-tensor path, ``False`` loop, ``None`` chosen by device.
    """

    _state_names = ("momentum",)

    def __init__(self, params: Iterable, lr: float, rho: float = 0.9, *,
                 foreach: bool | None = None) -> None:
        _check_lr(lr)
        _check_unit_interval("rho", rho)
        _check_foreach(foreach)
        super().__init__(params, {"lr": lr, "rho": rho, "foreach": foreach})

    def _single_tensor_update(self, group, params, grads, buffers, steps) -> None:
        for p, g, m in zip(params, grads, buffers["momentum"]):
            m.mul_(group["rho"]).add_(g)
            p.add_(m, alpha=-group["lr"])

    def _multi_tensor_update(self, group, params, grads, buffers, steps) -> None:
        momentum = buffers["momentum"]
        torch._foreach_mul_(momentum, group["rho"])
        torch._foreach_add_(momentum, grads)
        torch._foreach_add_(params, momentum, alpha=-group["lr"])


class RMSProp(_HandWrittenOptimizer):
    r"""RMSProp (Tieleman and Hinton, 2012): the step is divided by a running root mean square.

    .. math::
        \textbf{input: } \gamma \text{ (lr)}, \tau \text{ (tau)}, \delta \text{ (delta)};
        \quad r_0 \leftarrow 0 \\
        \textbf{for } t = 0, 1, \dots: \quad
        r \leftarrow \tau\, r + (1-\tau)\, g_t \odot g_t, \qquad
        \theta_{t+1} \leftarrow \theta_t - \frac{\gamma}{\delta + \sqrt{r}}\, g_t

    Variant: :math:`\delta` is added *outside* the square root and there is no bias correction,
    as in ``torch.optim.RMSprop(lr, alpha=tau, eps=delta)``.

    Args:
        params: parameters or parameter groups to optimise.
        lr: learning rate :math:`\gamma \ge 0`.
        tau: decay of the squared-gradient average, in :math:`[0, 1)`.
        delta: damping :math:`\delta > 0`.
        foreach: ``True`` multi-tensor path, ``False`` loop, ``None`` chosen by device.
    """

    _state_names = ("square_avg",)

    def __init__(self, params: Iterable, lr: float, tau: float = 0.9, delta: float = 1e-8, *,
                 foreach: bool | None = None) -> None:
        _check_lr(lr)
        _check_unit_interval("tau", tau)
        _check_delta(delta)
        _check_foreach(foreach)
        super().__init__(params, {"lr": lr, "tau": tau, "delta": delta, "foreach": foreach})

    def _single_tensor_update(self, group, params, grads, buffers, steps) -> None:
        tau, delta, lr = group["tau"], group["delta"], group["lr"]
        for p, g, r in zip(params, grads, buffers["square_avg"]):
            r.mul_(tau).addcmul_(g, g, value=1 - tau)
            p.addcdiv_(g, r.sqrt().add_(delta), value=-lr)

    def _multi_tensor_update(self, group, params, grads, buffers, steps) -> None:
        tau, delta, lr = group["tau"], group["delta"], group["lr"]
        r = buffers["square_avg"]
        torch._foreach_mul_(r, tau)
        torch._foreach_addcmul_(r, grads, grads, value=1 - tau)
        denom = torch._foreach_sqrt(r)
        torch._foreach_add_(denom, delta)
        torch._foreach_addcdiv_(params, grads, denom, value=-lr)


class Adagrad(_HandWrittenOptimizer):
    r"""Adagrad (Duchi et al., 2011): the step is divided by the root of the summed squares.

    .. math::
        \textbf{input: } \gamma \text{ (lr)}, \delta \text{ (delta)}; \quad r_0 \leftarrow 0 \\
        \textbf{for } t = 0, 1, \dots: \quad
        r \leftarrow r + g_t \odot g_t, \qquad
        \theta_{t+1} \leftarrow \theta_t - \frac{\gamma}{\delta + \sqrt{r}}\, g_t

    Variant: :math:`\delta` outside the square root, no learning-rate decay and a zero initial
    accumulator, as in ``torch.optim.Adagrad(lr, eps=delta)``.

    Args:
        params: parameters or parameter groups to optimise.
        lr: learning rate :math:`\gamma \ge 0`.
        delta: damping :math:`\delta > 0`.
        foreach: ``True`` multi-tensor path, ``False`` loop, ``None`` chosen by device.
    """

    _state_names = ("sum",)

    def __init__(self, params: Iterable, lr: float, delta: float = 1e-10, *,
                 foreach: bool | None = None) -> None:
        _check_lr(lr)
        _check_delta(delta)
        _check_foreach(foreach)
        super().__init__(params, {"lr": lr, "delta": delta, "foreach": foreach})

    def _single_tensor_update(self, group, params, grads, buffers, steps) -> None:
        delta, lr = group["delta"], group["lr"]
        for p, g, r in zip(params, grads, buffers["sum"]):
            r.addcmul_(g, g)
            p.addcdiv_(g, r.sqrt().add_(delta), value=-lr)

    def _multi_tensor_update(self, group, params, grads, buffers, steps) -> None:
        delta, lr = group["delta"], group["lr"]
        r = buffers["sum"]
        torch._foreach_addcmul_(r, grads, grads)
        denom = torch._foreach_sqrt(r)
        torch._foreach_add_(denom, delta)
        torch._foreach_addcdiv_(params, grads, denom, value=-lr)


class _AdamFamily(_HandWrittenOptimizer):
    """Adam and AMSGrad share their moments, hyperparameters and validation."""

    def __init__(self, params: Iterable, lr: float, beta1: float = 0.9, beta2: float = 0.999,
                 delta: float = 1e-8, *, foreach: bool | None = None) -> None:
        _check_lr(lr)
        _check_unit_interval("beta1", beta1)
        _check_unit_interval("beta2", beta2)
        _check_delta(delta)
        _check_foreach(foreach)
        super().__init__(params, {"lr": lr, "beta1": beta1, "beta2": beta2, "delta": delta,
                                  "foreach": foreach})

    @staticmethod
    def _update_moments_single(group, g, m1, m2) -> None:
        beta1, beta2 = group["beta1"], group["beta2"]
        m1.mul_(beta1).add_(g, alpha=1 - beta1)
        m2.mul_(beta2).addcmul_(g, g, value=1 - beta2)

    @staticmethod
    def _update_moments_multi(group, grads, m1, m2) -> None:
        beta1, beta2 = group["beta1"], group["beta2"]
        torch._foreach_mul_(m1, beta1)
        torch._foreach_add_(m1, grads, alpha=1 - beta1)
        torch._foreach_mul_(m2, beta2)
        torch._foreach_addcmul_(m2, grads, grads, value=1 - beta2)


class Adam(_AdamFamily):
    r"""Adam (Kingma and Ba, 2015).

    .. math::
        \textbf{input: } \gamma, \beta_1, \beta_2, \delta; \quad m_1, m_2 \leftarrow 0 \\
        \textbf{for } t = 0, 1, \dots: \quad
        m_1 \leftarrow \beta_1 m_1 + (1-\beta_1) g_t, \quad
        m_2 \leftarrow \beta_2 m_2 + (1-\beta_2) g_t \odot g_t, \\
        \hat m_1 = \frac{m_1}{1-\beta_1^{t+1}}, \quad \hat m_2 = \frac{m_2}{1-\beta_2^{t+1}},
        \qquad \theta_{t+1} \leftarrow \theta_t - \gamma\, \frac{\hat m_1}{\delta + \sqrt{\hat m_2}}

    Variant: :math:`\delta` is added after the square root of the *bias-corrected* second moment,
    as in ``torch.optim.Adam(lr, betas=(beta1, beta2), eps=delta)``.

    Args:
        params: parameters or parameter groups to optimise.
        lr: learning rate :math:`\gamma \ge 0`.
        beta1, beta2: decay rates of the first and second moments, in :math:`[0, 1)`.
        delta: damping :math:`\delta > 0`.
        foreach: ``True`` multi-tensor path, ``False`` loop, ``None`` chosen by device.
    """

    _state_names = ("m1", "m2")

    def _single_tensor_update(self, group, params, grads, buffers, steps) -> None:
        beta1, beta2, delta, lr = group["beta1"], group["beta2"], group["delta"], group["lr"]
        for p, g, m1, m2, t in zip(params, grads, buffers["m1"], buffers["m2"], steps):
            self._update_moments_single(group, g, m1, m2)
            bias1, bias2 = 1 - beta1**t, 1 - beta2**t
            denom = m2.sqrt().div_(math.sqrt(bias2)).add_(delta)  # δ + sqrt(m̂2)
            p.addcdiv_(m1, denom, value=-lr / bias1)

    def _multi_tensor_update(self, group, params, grads, buffers, steps) -> None:
        beta1, beta2, delta, lr = group["beta1"], group["beta2"], group["delta"], group["lr"]
        m1, m2 = buffers["m1"], buffers["m2"]
        self._update_moments_multi(group, grads, m1, m2)
        denom = torch._foreach_sqrt(m2)
        torch._foreach_div_(denom, [math.sqrt(1 - beta2**t) for t in steps])
        torch._foreach_add_(denom, delta)
        torch._foreach_addcdiv_(params, m1, denom, [-lr / (1 - beta1**t) for t in steps])


class AMSGrad(_AdamFamily):
    r"""AMSGrad (Reddi et al., 2018), exactly as the homework's pseudocode states it.

    .. math::
        \textbf{input: } \gamma, \beta_1, \beta_2, \delta; \quad
        m_1, m_2, m_2^{\max} \leftarrow 0 \\
        \textbf{for } t = 0, 1, \dots: \quad
        m_1 \leftarrow \beta_1 m_1 + (1-\beta_1) g_t, \quad
        m_2 \leftarrow \beta_2 m_2 + (1-\beta_2) g_t \odot g_t, \\
        \hat m_1 = \frac{m_1}{1-\beta_1^{t+1}}, \quad \hat m_2 = \frac{m_2}{1-\beta_2^{t+1}},
        \quad m_2^{\max} \leftarrow \max(m_2^{\max}, \hat m_2), \qquad
        \theta_{t+1} \leftarrow \theta_t - \gamma\, \frac{\hat m_1}{\delta + \sqrt{m_2^{\max}}}

    Variant: the running maximum is taken over the *bias-corrected* second moment
    :math:`\hat m_2`. ``torch.optim.Adam(amsgrad=True)`` instead keeps the maximum of the raw
    :math:`m_2` and divides it by the *current* :math:`1-\beta_2^{t+1}`; the two agree while
    :math:`\hat m_2` never decreases (e.g. a constant gradient) and differ after a gradient spike,
    where this version remembers the corrected peak and takes smaller steps.

    Args:
        params: parameters or parameter groups to optimise.
        lr: learning rate :math:`\gamma \ge 0`.
        beta1, beta2: decay rates of the first and second moments, in :math:`[0, 1)`.
        delta: damping :math:`\delta > 0`.
        foreach: ``True`` multi-tensor path, ``False`` loop, ``None`` chosen by device.
    """

    _state_names = ("m1", "m2", "m2_max")

    def _single_tensor_update(self, group, params, grads, buffers, steps) -> None:
        beta1, beta2, delta, lr = group["beta1"], group["beta2"], group["delta"], group["lr"]
        for p, g, m1, m2, m2_max, t in zip(params, grads, buffers["m1"], buffers["m2"],
                                           buffers["m2_max"], steps):
            self._update_moments_single(group, g, m1, m2)
            bias1, bias2 = 1 - beta1**t, 1 - beta2**t
            torch.maximum(m2_max, m2 / bias2, out=m2_max)  # max over m̂2
            p.addcdiv_(m1, m2_max.sqrt().add_(delta), value=-lr / bias1)

    def _multi_tensor_update(self, group, params, grads, buffers, steps) -> None:
        beta1, beta2, delta, lr = group["beta1"], group["beta2"], group["delta"], group["lr"]
        m1, m2, m2_max = buffers["m1"], buffers["m2"], buffers["m2_max"]
        self._update_moments_multi(group, grads, m1, m2)
        m2_hat = torch._foreach_div(m2, [1 - beta2**t for t in steps])
        torch._foreach_maximum_(m2_max, m2_hat)
        denom = torch._foreach_sqrt(m2_max)
        torch._foreach_add_(denom, delta)
        torch._foreach_addcdiv_(params, m1, denom, [-lr / (1 - beta1**t) for t in steps])


#: The optimizers of the benchmark, by the names the experiment's configuration uses.
OPTIMIZER_CLASSES: dict[str, type[Optimizer]] = {
    cls.__name__: cls for cls in (SGD, MomentumSGD, RMSProp, AMSGrad, Adagrad, Adam)
}
