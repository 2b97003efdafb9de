"""The hand-written optimizers against the homework's pseudocode and against ``torch.optim``."""

import io
import math

import pytest
import torch

from lib.optim.optimizers import (
    OPTIMIZER_CLASSES,
    SGD,
    Adagrad,
    Adam,
    AMSGrad,
    MomentumSGD,
    RMSProp,
)

# ---------------------------------------------------------------------------------------------
# References written line by line from the homework's pseudocode (float64, no in-place tricks).
# Each takes (theta, g, state, t) with t = 1, 2, ... and returns (new theta, new state); state
# keys are the optimizer's own state names so that state can be compared as well.


def ref_sgd(theta, g, state, t, lr):
    return theta - lr * g, {}


def ref_momentum(theta, g, state, t, lr, rho):
    m = rho * state.get("momentum", torch.zeros_like(theta)) + g
    return theta - lr * m, {"momentum": m}


def ref_rmsprop(theta, g, state, t, lr, tau, delta):
    r = tau * state.get("square_avg", torch.zeros_like(theta)) + (1 - tau) * g * g
    return theta - lr / (delta + torch.sqrt(r)) * g, {"square_avg": r}


def ref_adagrad(theta, g, state, t, lr, delta):
    r = state.get("sum", torch.zeros_like(theta)) + g * g
    return theta - lr / (delta + torch.sqrt(r)) * g, {"sum": r}


def _moments(g, state, t, beta1, beta2):
    m1 = beta1 * state.get("m1", torch.zeros_like(g)) + (1 - beta1) * g
    m2 = beta2 * state.get("m2", torch.zeros_like(g)) + (1 - beta2) * g * g
    return m1, m2, m1 / (1 - beta1**t), m2 / (1 - beta2**t)


def ref_adam(theta, g, state, t, lr, beta1, beta2, delta):
    m1, m2, m1_hat, m2_hat = _moments(g, state, t, beta1, beta2)
    return theta - lr * m1_hat / (delta + torch.sqrt(m2_hat)), {"m1": m1, "m2": m2}


def ref_amsgrad(theta, g, state, t, lr, beta1, beta2, delta):
    m1, m2, m1_hat, m2_hat = _moments(g, state, t, beta1, beta2)
    m2_max = torch.maximum(state.get("m2_max", torch.zeros_like(g)), m2_hat)
    return (
        theta - lr * m1_hat / (delta + torch.sqrt(m2_max)),
        {"m1": m1, "m2": m2, "m2_max": m2_max},
    )


def ref_torch_amsgrad(theta, g, state, t, lr, beta1, beta2, delta):
    """torch.optim.Adam(amsgrad=True): the maximum of the *raw* m2, corrected afterwards."""
    m1, m2, m1_hat, _ = _moments(g, state, t, beta1, beta2)
    m2_max = torch.maximum(state.get("m2_max", torch.zeros_like(g)), m2)
    m2_max_hat = m2_max / (1 - beta2**t)
    return (
        theta - lr * m1_hat / (delta + torch.sqrt(m2_max_hat)),
        {"m1": m1, "m2": m2, "m2_max": m2_max},
    )


# (class, constructor kwargs, reference, reference kwargs): non-default hyperparameters so that
# a hyperparameter that is ignored or swapped shows up.
CASES = [
    (SGD, {"lr": 0.05}, ref_sgd, {"lr": 0.05}),
    (MomentumSGD, {"lr": 0.05, "rho": 0.8}, ref_momentum, {"lr": 0.05, "rho": 0.8}),
    (
        RMSProp,
        {"lr": 0.01, "tau": 0.85, "delta": 1e-6},
        ref_rmsprop,
        {"lr": 0.01, "tau": 0.85, "delta": 1e-6},
    ),
    (Adagrad, {"lr": 0.1, "delta": 1e-7}, ref_adagrad, {"lr": 0.1, "delta": 1e-7}),
    (
        Adam,
        {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "delta": 1e-6},
        ref_adam,
        {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "delta": 1e-6},
    ),
    (
        AMSGrad,
        {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "delta": 1e-6},
        ref_amsgrad,
        {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "delta": 1e-6},
    ),
]
IDS = [case[0].__name__ for case in CASES]


def _loss(params, data):
    """A smooth non-quadratic loss of two parameter tensors (a matrix and a vector)."""
    weight, bias = params
    x, y = data
    return ((torch.tanh(x @ weight) + bias - y) ** 2).mean() + 0.1 * (weight**4).sum()


def _problem(dtype=torch.float64):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(32, 5, generator=generator, dtype=dtype)
    y = torch.randn(32, 3, generator=generator, dtype=dtype)
    params = [
        torch.randn(5, 3, generator=generator, dtype=dtype),
        torch.randn(3, generator=generator, dtype=dtype),
    ]
    return params, (x, y)


def _gradients(params, data):
    params = [p.detach().clone().requires_grad_(True) for p in params]
    return torch.autograd.grad(_loss(params, data), params)


FUSED_CASES = [case for case in CASES if case[0].supports_fused]


def _check_against_the_pseudocode(cls, kwargs, reference, ref_kwargs, fused):
    init, data = _problem()
    params = [torch.nn.Parameter(p.clone()) for p in init]
    optimizer = cls(params, **kwargs, **({"fused": True} if fused else {}))
    expected = [p.clone() for p in init]
    ref_states = [{} for _ in init]
    for t in range(1, 8):
        grads = _gradients(expected, data)
        for p, g in zip(params, _gradients([p.detach() for p in params], data)):
            p.grad = g
        optimizer.step()
        for i, g in enumerate(grads):
            expected[i], ref_states[i] = reference(expected[i], g, ref_states[i], t, **ref_kwargs)
        for p, e, ref_state in zip(params, expected, ref_states):
            torch.testing.assert_close(p.detach(), e, rtol=1e-12, atol=1e-12)
            state = optimizer.state[p]
            assert state["step"] == t
            for name, value in ref_state.items():
                torch.testing.assert_close(state[name], value, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cls, kwargs, reference, ref_kwargs", CASES, ids=IDS)
def test_update_matches_the_pseudocode(cls, kwargs, reference, ref_kwargs):
    _check_against_the_pseudocode(cls, kwargs, reference, ref_kwargs, fused=False)


@pytest.mark.parametrize(
    "cls, kwargs, reference, ref_kwargs",
    FUSED_CASES,
    ids=[case[0].__name__ for case in FUSED_CASES],
)
def test_fused_update_matches_the_pseudocode(cls, kwargs, reference, ref_kwargs):
    """The compiled step (float64 here) against the same line-by-line references."""
    _check_against_the_pseudocode(cls, kwargs, reference, ref_kwargs, fused=True)


def test_fused_and_loop_agree_in_float32_over_learning_rates():
    """A fused AMSGrad on the float32 MLP follows the loop, also after the learning rate changes
    (a new rate is an input of the compiled step, not a constant compiled into it)."""
    a, b = _mlp(), _mlp()
    loop, fused = AMSGrad(a.parameters(), lr=1e-2), AMSGrad(b.parameters(), lr=1e-2, fused=True)
    for lr in (1e-2, 3e-3):
        for optimizer in (loop, fused):
            optimizer.param_groups[0]["lr"] = lr
        _train(a, loop, steps=10)
        _train(b, fused, steps=10)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def _mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))


def _train(model, optimizer, steps, seed=1):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(20, 6, generator=generator)
        y = torch.randint(0, 4, (20,), generator=generator)
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


TORCH_EQUIVALENTS = [
    (lambda p: SGD(p, lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    (
        lambda p: MomentumSGD(p, lr=0.05, rho=0.9),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, dampening=0),
    ),
    (
        lambda p: RMSProp(p, lr=1e-3, tau=0.9, delta=1e-8),
        lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-8),
    ),
    (
        lambda p: Adagrad(p, lr=0.05, delta=1e-10),
        lambda p: torch.optim.Adagrad(p, lr=0.05, eps=1e-10),
    ),
    (
        lambda p: Adam(p, lr=1e-3, beta1=0.9, beta2=0.999, delta=1e-8),
        lambda p: torch.optim.Adam(p, lr=1e-3, betas=(0.9, 0.999), eps=1e-8),
    ),
]


@pytest.mark.parametrize(
    "ours, theirs", TORCH_EQUIVALENTS, ids=["SGD", "MomentumSGD", "RMSProp", "Adagrad", "Adam"]
)
def test_matches_torch_optim(ours, theirs):
    a, b = _mlp(), _mlp()
    _train(a, ours(a.parameters()), steps=30)
    _train(b, theirs(b.parameters()), steps=30)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def test_torch_amsgrad_takes_the_maximum_before_bias_correction():
    """Pins down torch's variant: its update is ref_torch_amsgrad, not the homework's."""
    init, data = _problem()
    param = torch.nn.Parameter(init[0].clone())
    optimizer = torch.optim.Adam([param], lr=0.01, betas=(0.8, 0.99), eps=1e-6, amsgrad=True)
    theta, state = init[0].clone(), {}
    for t in range(1, 8):
        g = _gradients([theta, init[1]], data)[0]
        param.grad = g.clone()
        optimizer.step()
        theta, state = ref_torch_amsgrad(theta, g, state, t, 0.01, 0.8, 0.99, 1e-6)
        torch.testing.assert_close(param.detach(), theta, rtol=1e-12, atol=1e-12)


def _scalar_run(make, grads):
    """Parameter values after each step of ``make`` on a scalar fed the gradients ``grads``."""
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    optimizer = make([param])
    values = []
    for g in grads:
        param.grad = torch.tensor([g], dtype=torch.float64)
        optimizer.step()
        values.append(param.item())
    return values


def test_amsgrad_and_torch_amsgrad_differ_after_a_gradient_spike():
    """After g = 1 then g = 0 the homework's max remembers the corrected peak m2_hat = 1, while
    torch's max of the raw m2 = 1 - beta2, divided by 1 - beta2^2, gives 1 / (1 + beta2)."""
    lr, beta1, beta2, delta = 0.1, 0.9, 0.999, 1e-8
    ours = _scalar_run(lambda p: AMSGrad(p, lr=lr, beta1=beta1, beta2=beta2, delta=delta), [1, 0])
    theirs = _scalar_run(
        lambda p: torch.optim.Adam(p, lr=lr, betas=(beta1, beta2), eps=delta, amsgrad=True), [1, 0]
    )
    assert ours[0] == pytest.approx(theirs[0], rel=1e-12)  # first step: both -lr g/(δ+|g|)
    m1_hat = beta1 * (1 - beta1) / (1 - beta1**2)
    assert ours[1] - ours[0] == pytest.approx(-lr * m1_hat / (delta + 1.0), rel=1e-10)
    torch_m2 = 1 / (1 + beta2)
    assert theirs[1] - theirs[0] == pytest.approx(
        -lr * m1_hat / (delta + math.sqrt(torch_m2)), rel=1e-10
    )
    assert abs(ours[1] - ours[0]) < abs(theirs[1] - theirs[0])  # ours steps more cautiously


def test_amsgrad_equals_torch_amsgrad_while_the_corrected_moment_grows():
    grads = [1.0 + 0.1 * k for k in range(20)]  # growing gradients: m2_hat never decreases
    ours = _scalar_run(lambda p: AMSGrad(p, lr=0.01), grads)
    theirs = _scalar_run(lambda p: torch.optim.Adam(p, lr=0.01, amsgrad=True), grads)
    assert ours == pytest.approx(theirs, rel=1e-10)


@pytest.mark.parametrize("cls, kwargs, reference, ref_kwargs", CASES, ids=IDS)
def test_state_dict_round_trip_continues_identically(cls, kwargs, reference, ref_kwargs):
    model = _mlp()
    optimizer = cls(model.parameters(), **kwargs)
    _train(model, optimizer, steps=5)
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer)
    resumed = _mlp(seed=123)  # different initial weights, overwritten by the checkpoint
    resumed.load_state_dict(saved["model"])
    resumed_optimizer = cls(resumed.parameters(), **kwargs)
    resumed_optimizer.load_state_dict(saved["optimizer"])
    _train(model, optimizer, steps=5, seed=2)
    _train(resumed, resumed_optimizer, steps=5, seed=2)
    for p, q in zip(model.parameters(), resumed.parameters()):
        assert torch.equal(p, q)


_P = [torch.nn.Parameter(torch.zeros(2))]

# (class, constructor arguments, message), as torch.optim words them.
INVALID = [
    (SGD, {"lr": -0.1}, r"Invalid learning rate: -0\.1"),
    (SGD, {"lr": math.nan}, "Invalid learning rate: nan"),
    (MomentumSGD, {"lr": 0.1, "rho": 1.0}, r"Invalid rho value: 1\.0"),
    (RMSProp, {"lr": 0.1, "tau": -0.5}, r"Invalid tau value: -0\.5"),
    (RMSProp, {"lr": 0.1, "delta": 0.0}, r"Invalid delta value: 0\.0"),
    (Adagrad, {"lr": 0.1, "delta": -1e-8}, "Invalid delta value"),
    (Adam, {"lr": 0.1, "beta1": 1.0}, "Invalid beta1 value"),
    (AMSGrad, {"lr": 0.1, "beta2": math.nan}, "Invalid beta2 value: nan"),
]


@pytest.mark.parametrize(
    "cls, kwargs, message",
    INVALID,
    ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(INVALID)],
)
def test_invalid_hyperparameters_are_refused(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(_P, **kwargs)


def test_sgd_offers_no_fused_step():
    with pytest.raises(TypeError):
        SGD(_P, lr=0.1, fused=True)


# Least squares min ||A x - b||^2 / n: the answer is known, and every method must approach it.
CONVERGENCE = [
    (lambda p: SGD(p, lr=0.1), 2e-6),
    (lambda p: MomentumSGD(p, lr=0.02, rho=0.9), 2e-6),
    (lambda p: RMSProp(p, lr=1e-3), 1e-4),
    (lambda p: Adagrad(p, lr=0.5), 2e-6),
    (lambda p: Adam(p, lr=1e-2), 1e-4),
    (lambda p: AMSGrad(p, lr=1e-2), 1e-4),
]


@pytest.mark.parametrize("make, tolerance", CONVERGENCE, ids=list(OPTIMIZER_CLASSES))
def test_converges_on_least_squares(make, tolerance):
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(50, 5, generator=generator, dtype=torch.float64)
    b = torch.randn(50, generator=generator, dtype=torch.float64)
    best = torch.linalg.lstsq(a, b.unsqueeze(1)).solution.squeeze(1)

    def loss(x):
        return ((a @ x - b) ** 2).mean()

    x = torch.nn.Parameter(torch.zeros(5, dtype=torch.float64))
    optimizer = make([x])
    for _ in range(3000):
        optimizer.zero_grad()
        loss(x).backward()
        optimizer.step()
    assert loss(x).item() - loss(best).item() < tolerance


def test_param_groups_skip_missing_gradients_and_return_the_closure_loss():
    a = torch.nn.Parameter(torch.ones(2))
    b = torch.nn.Parameter(torch.ones(2))
    frozen = torch.nn.Parameter(torch.ones(2))
    optimizer = SGD([{"params": [a], "lr": 0.5}, {"params": [b, frozen]}], lr=0.1)

    def closure():
        optimizer.zero_grad()
        loss = a.sum() + b.sum()
        loss.backward()
        return loss

    assert optimizer.step(closure).item() == 4.0
    assert torch.equal(a.detach(), torch.full((2,), 0.5))
    assert torch.equal(b.detach(), torch.full((2,), 0.9))
    assert torch.equal(frozen.detach(), torch.ones(2)) and frozen not in optimizer.state
