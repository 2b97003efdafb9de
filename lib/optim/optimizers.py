r"""Hand-written first-order optimizers (homework §2): SGD, heavy-ball momentum, RMSProp, AMSGrad,
and, beyond the homework, Adagrad and Adam.

Every class is a :class:`torch.optim.Optimizer`: parameters live in ``param_groups``, per-parameter
state in ``self.state[p]`` (created lazily at the first step), so ``zero_grad``, ``state_dict`` and
``load_state_dict`` come from the base class. Notation follows the homework: :math:`\gamma` is the
learning rate, :math:`g_t` the minibatch gradient, :math:`\delta` the damping added to the
denominator of the adaptive methods, all operations on vectors are element-wise.

Each update rule is written once, as a readable loop over a group's parameter tensors (the
``_update`` static method of each class). ``fused=False`` (the default, as in ``torch.optim``)
runs that loop as written: several element-wise passes over memory and one kernel launch per
operation and tensor. ``fused=True`` hands the *same* function to :func:`torch.compile`, which
fuses each tensor's operations into one pass that reads and writes every tensor once; the
benchmarks (``python -m benchmarks``) measure it against ``torch.optim``'s fused steps, and the
tests check that both paths agree. The first fused step of each optimizer class compiles the
update (seconds; cached on disk for later processes), so fusing pays for long runs only. SGD,
a single in-place pass already, has no fused variant (``supports_fused``).

The updates multiply by the learning rate (``lr * g``) rather than passing it as an ``alpha=``
or ``value=`` argument: a compiled update then takes it as an input, so another rate (a
schedule, the grid's next run) does not compile the update again. The decay rates, constants of
a run, are such arguments, which spares the plain loop temporary tensors. For the same reason
Adam and AMSGrad keep the powers :math:`\beta^t` of their bias corrections as scalar state
tensors rather than computing them from the step count.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import torch
from torch.optim import Optimizer

from lib.optim.base import HandWrittenOptimizer, StateMakers, one, zeros

__all__ = [
    "OPTIMIZER_CLASSES",
    "SGD",
    "AMSGrad",
    "Adagrad",
    "Adam",
    "MomentumSGD",
    "RMSProp",
]


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"Invalid {name} value: {value}")


def _check_delta(value: float) -> None:
    # Strictly positive: a parameter whose gradient is exactly zero (a dead ReLU unit) has a
    # zero second moment, and 0 / (0 + 0) would be NaN.
    if not 0.0 < value:
        raise ValueError(f"Invalid delta value: {value}")


class SGD(HandWrittenOptimizer):
    r"""Vanilla minibatch stochastic gradient descent.

    .. math::
        \textbf{input: } \gamma \text{ (lr)}, \theta_0 \\
        \textbf{for } t = 0, 1, \dots: \quad
        \theta_{t+1} \leftarrow \theta_t - \gamma\, g_t

    Equals ``torch.optim.SGD(params, lr)`` (no momentum, no weight decay). There is no fused
    variant: the in-place ``add_`` below already reads and writes each tensor once, and a
    compiled version measured no faster.

    Args:
        params: parameters or parameter groups to optimise.
        lr: learning rate :math:`\gamma \ge 0`.
    """

    supports_fused: ClassVar[bool] = False

    def __init__(self, params: Iterable, lr: float) -> None:
        super().__init__(params, {"lr": lr})

    @staticmethod
    def _update(params, grads, *, lr) -> None:
        for p, g in zip(params, grads):
            p.add_(g, alpha=-lr)


class MomentumSGD(HandWrittenOptimizer):
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
        fused: one compiled pass per tensor (``True``) or the plain loop (``False``).
    """

    _state: ClassVar[StateMakers] = {"momentum": zeros}
    _hyper = ("lr", "rho")

    def __init__(
        self, params: Iterable, lr: float, rho: float = 0.9, *, fused: bool = False
    ) -> None:
        _check_rate("rho", rho)
        super().__init__(params, {"lr": lr, "rho": rho}, fused)

    @staticmethod
    def _update(params, grads, momentum, *, lr, rho) -> None:
        for p, g, m in zip(params, grads, momentum):
            m.mul_(rho).add_(g)
            p.sub_(lr * m)


class RMSProp(HandWrittenOptimizer):
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
        fused: one compiled pass per tensor (``True``) or the plain loop (``False``).
    """

    _state: ClassVar[StateMakers] = {"square_avg": zeros}
    _hyper = ("lr", "tau", "delta")

    def __init__(
        self,
        params: Iterable,
        lr: float,
        tau: float = 0.9,
        delta: float = 1e-8,
        *,
        fused: bool = False,
    ) -> None:
        _check_rate("tau", tau)
        _check_delta(delta)
        super().__init__(params, {"lr": lr, "tau": tau, "delta": delta}, fused)

    @staticmethod
    def _update(params, grads, square_avg, *, lr, tau, delta) -> None:
        for p, g, r in zip(params, grads, square_avg):
            r.mul_(tau).addcmul_(g, g, value=1 - tau)
            p.sub_(lr * g / (delta + r.sqrt()))


class Adagrad(HandWrittenOptimizer):
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
        fused: one compiled pass per tensor (``True``) or the plain loop (``False``).
    """

    _state: ClassVar[StateMakers] = {"sum": zeros}
    _hyper = ("lr", "delta")

    def __init__(
        self, params: Iterable, lr: float, delta: float = 1e-10, *, fused: bool = False
    ) -> None:
        _check_delta(delta)
        super().__init__(params, {"lr": lr, "delta": delta}, fused)

    @staticmethod
    def _update(params, grads, sums, *, lr, delta) -> None:
        for p, g, r in zip(params, grads, sums):
            r.addcmul_(g, g)
            p.sub_(lr * g / (delta + r.sqrt()))


class _AdamFamily(HandWrittenOptimizer):
    """Adam and AMSGrad share their moments, hyperparameters and their checks."""

    _hyper = ("lr", "beta1", "beta2", "delta")

    def __init__(
        self,
        params: Iterable,
        lr: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        delta: float = 1e-8,
        *,
        fused: bool = False,
    ) -> None:
        _check_rate("beta1", beta1)
        _check_rate("beta2", beta2)
        _check_delta(delta)
        super().__init__(params, {"lr": lr, "beta1": beta1, "beta2": beta2, "delta": delta}, fused)


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
        fused: one compiled pass per tensor (``True``) or the plain loop (``False``).
    """

    _state: ClassVar[StateMakers] = {
        "m1": zeros,
        "m2": zeros,
        "beta1_power": one,
        "beta2_power": one,
    }

    @staticmethod
    def _update(
        params, grads, m1s, m2s, beta1_powers, beta2_powers, *, lr, beta1, beta2, delta
    ) -> None:
        for p, g, m1, m2, beta1_t, beta2_t in zip(
            params, grads, m1s, m2s, beta1_powers, beta2_powers
        ):
            beta1_t.mul_(beta1)  # β1^(t+1), kept rather than recomputed with a power
            beta2_t.mul_(beta2)
            m1.mul_(beta1).add_(g, alpha=1 - beta1)
            m2.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            m1_hat, m2_hat = m1 / (1 - beta1_t), m2 / (1 - beta2_t)
            p.sub_(lr * m1_hat / (delta + m2_hat.sqrt()))


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

    Args: those of :class:`Adam`.
    """

    _state: ClassVar[StateMakers] = {
        "m1": zeros,
        "m2": zeros,
        "m2_max": zeros,
        "beta1_power": one,
        "beta2_power": one,
    }

    @staticmethod
    def _update(
        params, grads, m1s, m2s, m2_maxes, beta1_powers, beta2_powers, *, lr, beta1, beta2, delta
    ) -> None:
        for p, g, m1, m2, m2_max, beta1_t, beta2_t in zip(
            params, grads, m1s, m2s, m2_maxes, beta1_powers, beta2_powers
        ):
            beta1_t.mul_(beta1)  # β1^(t+1), kept rather than recomputed with a power
            beta2_t.mul_(beta2)
            m1.mul_(beta1).add_(g, alpha=1 - beta1)
            m2.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            m1_hat, m2_hat = m1 / (1 - beta1_t), m2 / (1 - beta2_t)
            torch.maximum(m2_max, m2_hat, out=m2_max)  # the maximum of m̂2, not of m2
            p.sub_(lr * m1_hat / (delta + m2_max.sqrt()))


#: The optimizers of the benchmark, by the names the experiment's configuration uses.
OPTIMIZER_CLASSES: dict[str, type[Optimizer]] = {
    cls.__name__: cls for cls in (SGD, MomentumSGD, RMSProp, AMSGrad, Adagrad, Adam)
}
