"""The objective (eq. 2), the penalties and the trainer (eq. 3–4)."""

import math

import pytest
import torch

from lib.config import GANConfig
from lib.gan.networks import DualVariable, Generator
from lib.gan.sampling import RunSampler, evaluation_generator
from lib.gan.targets import make_target
from lib.gan.training import (
    History,
    build_networks,
    critic_step,
    generator_step,
    gradient_penalty,
    lipschitz_penalty,
    objective,
    plot_box,
    record_snapshot,
    spectral_regularisation,
    train_wgan,
)


def test_objective_is_mean_on_real_minus_mean_on_fake():
    torch.manual_seed(0)
    d = DualVariable()
    real, fake = torch.randn(10, 2), torch.randn(7, 2)
    with torch.no_grad():
        assert float(objective(d, real, fake)) == pytest.approx(
            float(d(real).mean() - d(fake).mean())
        )


def test_run_sampler_draws_the_target_and_repeats_for_the_same_seed():
    target = make_target("ring")
    sampler = RunSampler(target, noise_dim=2, batch_size=200, seed=3, block=7)
    draws = [sampler.draws(k) for k in range(10)]  # crosses a block boundary
    assert draws[9].real.shape == (200, 2) and draws[9].mix.shape == (200, 1)
    assert torch.allclose(draws[9].real.norm(dim=1), torch.full((200,), 2.0), atol=0.3)
    assert float(draws[9].mix.min()) >= 0.0 and float(draws[9].mix.max()) <= 1.0
    again = RunSampler(target, noise_dim=2, batch_size=200, seed=3, block=7)
    for k in range(10):
        torch.testing.assert_close(again.draws(k).generator_noise, draws[k].generator_noise)
    assert not torch.equal(draws[0].real, draws[1].real)
    with pytest.raises(ValueError, match="in order"):
        again.draws(0)


def test_gradient_penalty_is_zero_for_a_unit_slope_linear_critic():
    d = DualVariable(hidden_dim=1)
    with torch.no_grad():
        d.hidden.weight.copy_(torch.tensor([[0.6, 0.8]]))
        d.hidden.bias.fill_(100.0)
        d.output.weight.fill_(1.0)
    real, fake = torch.randn(50, 2), torch.randn(50, 2)
    assert gradient_penalty(d, real, fake).detach().item() == pytest.approx(0.0, abs=1e-10)
    with torch.no_grad():
        d.output.weight.fill_(3.0)  # slope 3: penalty (3 - 1)^2
    assert gradient_penalty(d, real, fake).detach().item() == pytest.approx(4.0, rel=1e-5)


def test_spectral_regularisation_is_half_the_sum_of_squared_norms_and_differentiable():
    torch.manual_seed(0)
    d = DualVariable(lipschitz="spectral_regularisation")
    for _ in range(50):
        d.update_singular_vectors()
    expected = 0.5 * sum(s**2 for s in d.exact_spectral_norms())
    penalty = spectral_regularisation(d)
    assert penalty.detach().item() == pytest.approx(expected, rel=1e-4)
    penalty.backward()
    # d sigma / dW = u v^T: a rank-one gradient (times sigma, from the square)
    grad = d.hidden.weight.grad
    assert float(torch.linalg.matrix_rank(grad)) == 1
    config = GANConfig(lipschitz="spectral_regularisation", sr_weight=0.5)
    assert lipschitz_penalty(d, None, None, config).detach().item() == pytest.approx(
        0.5 * expected, rel=1e-4
    )


BAD_CONFIGS = [
    ({"iterations": 0}, "iterations must be a positive integer"),
    ({"batch_size": -5}, "batch_size must be a positive integer"),
    ({"hidden_dim": 0}, "hidden_dim must be a positive integer"),
    ({"critic_hidden_dim": 0}, "critic_hidden_dim must be a positive integer"),
    ({"n_critic": 0}, "n_critic must be a positive integer"),
    ({"lr": 0.0}, "lr must be a positive number"),
    ({"clip": -1.0}, "clip must be a positive number"),
    ({"gp_weight": -1.0}, "gp_weight must be a non-negative number"),
    ({"betas": (0.0, 1.0)}, r"betas\[1\] must be < 1.0"),
    ({"lipschitz": "spectral"}, "lipschitz must be one of"),
    ({"target": "moons"}, "target must be one of"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"clip": float("inf")}, "clip must be a positive number"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_CONFIGS)
def test_bad_hyperparameters_raise_value_error_naming_them(changes, message):
    with pytest.raises(ValueError, match=message):
        GANConfig(**changes)


def _hand_written_critic(params, a):
    """d(a) = Y2 relu(Y1 a + y1) + y2, written out from the parameter list (Y1, y1, Y2, y2)."""
    y1_weight, y1_bias, y2_weight, y2_bias = params
    return (torch.relu(a @ y1_weight.T + y1_bias) @ y2_weight.T + y2_bias).reshape(-1)


def test_one_critic_step_moves_the_critic_against_the_gradient_of_its_loss():
    """With plain SGD, a critic step changes Y by −lr ∇_Y(−F̂ + λ·GP), computed here by hand."""
    torch.manual_seed(0)
    config = GANConfig(lipschitz="gradient_penalty", gp_weight=0.7)
    critic = DualVariable(lipschitz="gradient_penalty")
    real, fake, mix = torch.randn(64, 2), torch.randn(64, 2) + 1.0, torch.rand(64, 1)
    params = [p.detach().clone().double().requires_grad_(True) for p in critic.parameters()]
    r, f, t = real.double(), fake.double(), mix.double()
    gain = _hand_written_critic(params, r).mean() - _hand_written_critic(params, f).mean()
    mixed = (t * r + (1 - t) * f).requires_grad_(True)
    (slope,) = torch.autograd.grad(
        _hand_written_critic(params, mixed).sum(), mixed, create_graph=True
    )
    loss = -gain + 0.7 * ((slope.norm(dim=1) - 1) ** 2).mean()
    grads = torch.autograd.grad(loss, params)
    lr = 0.05
    returned = critic_step(
        critic, torch.optim.SGD(critic.parameters(), lr=lr), real, fake, config, mix
    )
    assert float(returned) == pytest.approx(float(gain.detach()), rel=1e-5)
    for p, before, g in zip(critic.parameters(), params, grads):
        torch.testing.assert_close(
            p.detach().double(), before.detach() - lr * g, atol=1e-6, rtol=1e-5
        )


def test_critic_step_projects_after_the_step_and_refuses_a_non_finite_loss():
    torch.manual_seed(0)
    config = GANConfig(lipschitz="weight_clipping", clip=0.01)
    critic = DualVariable(c=0.01, lipschitz="weight_clipping")
    real, fake = torch.randn(32, 2), torch.randn(32, 2)
    critic_step(critic, torch.optim.SGD(critic.parameters(), lr=10.0), real, fake, config)
    assert max(float(p.detach().abs().max()) for p in critic.parameters()) == pytest.approx(0.01)
    before = [p.detach().clone() for p in critic.parameters()]
    real[0, 0] = float("nan")
    assert (
        critic_step(critic, torch.optim.SGD(critic.parameters(), lr=10.0), real, fake, config)
        is None
    )
    for b, p in zip(before, critic.parameters()):
        assert torch.equal(b, p.detach())


def test_generator_step_descends_the_negated_critic_mean():
    torch.manual_seed(0)
    g, d = Generator(), DualVariable()
    noise = torch.randn(50, 2)
    params = [p.detach().clone().requires_grad_(True) for p in g.parameters()]
    w1, b1, w2, b2 = params
    fake = torch.relu(noise @ w1.T + b1) @ w2.T + b2
    loss = -_hand_written_critic([p.detach() for p in d.parameters()], fake).mean()
    grads = torch.autograd.grad(loss, params)
    critic_before = [p.detach().clone() for p in d.parameters()]
    returned = generator_step(g, d, torch.optim.SGD(g.parameters(), lr=0.1), noise)
    assert float(returned) == pytest.approx(float(loss.detach()), rel=1e-5)
    for p, before, grad in zip(g.parameters(), params, grads):
        torch.testing.assert_close(p.detach(), before.detach() - 0.1 * grad)
    for b, p in zip(critic_before, d.parameters()):  # the critic is not moved
        assert torch.equal(b, p.detach()) and p.grad is None


def test_generator_steps_only_every_n_critic_iterations():
    config = GANConfig(
        target="ring", iterations=5, n_critic=5, snapshot_every=100, eval_samples=100
    )
    runs = {n: train_wgan(config.replace(iterations=n), progress=False) for n in (1, 5, 6)}
    # iterations 1..4 move only the critic: the generator after 5 iterations equals the one after
    # 1; iteration 5 (5 mod 5 = 0) moves it again.
    for a, b, c in zip(*(runs[n].generator.parameters() for n in (1, 5, 6))):
        torch.testing.assert_close(a, b)
        assert not torch.equal(b, c)
    assert not all(
        torch.equal(a, b) for a, b in zip(runs[1].critic.parameters(), runs[5].critic.parameters())
    )


@pytest.mark.parametrize(
    "method",
    ["spectral_normalisation", "weight_clipping", "gradient_penalty", "spectral_regularisation"],
)
def test_short_runs_record_a_history(method):
    config = GANConfig(
        target="two_gaussians", lipschitz=method, iterations=60, snapshot_every=20, eval_samples=200
    )
    run = train_wgan(config, progress=False)
    h = run.history
    assert h.snapshot_iterations == [0, 20, 40, 60]
    assert len(h.critic_objective) == 60 and not h.diverged
    assert all(math.isfinite(w) for w in h.w1)
    assert len(h.samples) == 4 and h.samples[-1].shape == (200, 2)
    assert h.critic_values[-1].shape == (100, 100)


def test_non_finite_loss_is_recorded_as_divergence_not_raised():
    config = GANConfig(
        target="two_gaussians", iterations=50, lr=1e30, snapshot_every=10, eval_samples=100
    )
    run = train_wgan(config, progress=False)
    assert run.history.diverged and run.history.diverged_at < 50
    assert run.history.snapshot_iterations[-1] == run.history.diverged_at
    assert run.final["diverged"]


def test_a_non_finite_parameter_fails_the_snapshot():
    config = GANConfig(target="ring", eval_samples=100)
    generator, critic = build_networks(config)
    target = make_target("ring")
    history = History()
    draws = evaluation_generator(config.seed)
    assert record_snapshot(history, 0, generator, critic, target, plot_box(target), 100, draws)
    with torch.no_grad():
        critic.output.bias.fill_(float("inf"))  # samples stay finite, the critic does not
    assert not record_snapshot(history, 5, generator, critic, target, plot_box(target), 100, draws)
    assert history.snapshot_iterations == [0, 5]
