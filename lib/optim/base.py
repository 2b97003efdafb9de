"""The machinery the hand-written optimizers share (see :mod:`lib.optim.optimizers`).

:class:`HandWrittenOptimizer` creates each parameter's state lazily at its first step, counts
steps and runs a class's update rule either as written or compiled into one fused pass per
tensor (:func:`torch.compile`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import torch
from torch.optim import Optimizer


@functools.cache
def compiled(update: Callable) -> Callable:
    """``update`` compiled into fused kernels, once per function (torch caches the compiled
    graphs per function, tensor shapes and constant arguments). The learning rate, a Python
    number used as a factor, becomes an argument of the kernel, and the step-dependent powers
    of Adam's bias corrections are state tensors: neither a new rate nor the next step compiles
    again."""
    return torch.compile(update, fullgraph=True, dynamic=False)


#: Each state entry's constructor, by name.
StateMakers = dict[str, Callable[[torch.Tensor], torch.Tensor]]


def zeros(p: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(p, memory_format=torch.preserve_format)


def one(p: torch.Tensor) -> torch.Tensor:
    # A scalar tensor in the parameter's dtype and device: a compiled update reads it as data,
    # where a Python number that changes every step would be compiled in as a constant.
    return torch.ones((), dtype=p.dtype, device=p.device)


class HandWrittenOptimizer(Optimizer):
    """Shared machinery: lazy state, step counting, the plain or the fused (compiled) update.

    A subclass checks its hyperparameters in its constructor (as ``torch.optim`` does), names
    them (``_hyper``), names its per-parameter state with the function that creates each entry
    at the parameter's first step (``_state``), and gives its update rule (``_update``): a
    function of the group's parameters, gradients, state tensors (one list per ``_state``
    entry, in order) and hyperparameters.
    """

    _hyper: ClassVar[tuple[str, ...]] = ("lr",)
    _state: ClassVar[StateMakers] = {}
    #: Whether the class offers ``fused=True``: only where the benchmarks show that it pays.
    supports_fused: ClassVar[bool] = True

    def __init__(self, params: Iterable, defaults: dict[str, Any], fused: bool = False) -> None:
        if not 0.0 <= defaults["lr"]:
            raise ValueError(f"Invalid learning rate: {defaults['lr']}")
        super().__init__(params, {**defaults, "fused": fused})

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
            if any(p.grad.is_sparse for p in params):
                raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
            states = [self._state_of(p) for p in params]
            for state in states:
                state["step"] += 1
            update = compiled(self._update) if group["fused"] else self._update
            update(
                params,
                [p.grad for p in params],
                *([state[name] for state in states] for name in self._state),
                **{name: group[name] for name in self._hyper},
            )
        return loss

    def _state_of(self, p: torch.Tensor) -> dict:
        state = self.state[p]
        if not state:
            state["step"] = 0  # a Python int: load_state_dict keeps it as it is
            for name, make in self._state.items():
                state[name] = make(p)
        return state

    @staticmethod
    def _update(params, grads, *states, **hyperparameters) -> None:
        raise NotImplementedError
