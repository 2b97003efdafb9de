"""The objective (eq. 2), the penalties and the trainer (eq. 3–4)."""

import math

import pytest
import torch

from lib.config import GANConfig
from lib.gan.networks import DualVariable, Generator
from lib.gan.targets import make_noise, make_target
from lib.gan.training import (
    gradient_penalty,
    lipschitz_penalty,
    objective,
    sample_batch,
    spectral_regularisation,
    train_wgan,
)


def test_objective_is_mean_on_real_minus_mean_on_fake():
    torch.manual_seed(0)
    d = DualVariable()
    real, fake = torch.randn(10, 2), torch.randn(7, 2)
    with torch.no_grad():
        assert float(objective(d, real, fake)) == pytest.approx(float(d(real).mean() - d(fake).mean()))


def test_sample_batch_draws_from_the_target_and_the_generator():
    torch.manual_seed(0)
    target = make_target("ring").distribution()
    real, fake = sample_batch(target, make_noise(2), Generator(), 200)
    assert real.shape == fake.shape == (200, 2)
    assert torch.allclose(real.norm(dim=1), torch.full((200,), 2.0), atol=0.3)
    assert fake.requires_grad  # the generator's step differentiates through it


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
    # d sigma / dW = u v^T: a rank-one gradient of Frobenius norm sigma (times sigma from the square)
    grad = d.hidden.weight.grad
    assert float(torch.linalg.matrix_rank(grad)) == 1
    config = GANConfig(lipschitz="spectral_regularisation", sr_weight=0.5)
    assert lipschitz_penalty(d, None, None, config).detach().item() == pytest.approx(0.5 * expected, rel=1e-4)


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
]


@pytest.mark.parametrize(("changes", "message"), BAD_CONFIGS)
def test_bad_hyperparameters_raise_value_error_naming_them(changes, message):
    with pytest.raises(ValueError, match=message):
        GANConfig(**changes)


def test_one_trainer_step_follows_eq_3_and_4():
    """k = 0: one critic step, the projection, and a generator step (0 mod 5 = 0)."""
    config = GANConfig(target="ring", iterations=1, snapshot_every=1, eval_samples=100)
    torch.manual_seed(config.seed)
    run = train_wgan(config, progress=False)
    # Replay the same step by hand from the same seed.
    from lib.runtime import seed_everything

    seed_everything(config.seed)
    target, noise = make_target("ring").distribution(), make_noise(2)
    g, d = Generator(), DualVariable()
    d.enforce_lipschitz()
    opt_g = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.0, 0.9))
    target.sample((config.eval_samples,)), noise.sample((config.eval_samples,))  # initial snapshot draws
    torch.rand(0)
    real = target.sample((200,))
    with torch.no_grad():
        fake = g(noise.sample((200,)))
    loss = -objective(d, real, fake)
    opt_d.zero_grad(); loss.backward(); opt_d.step(); d.enforce_lipschitz()
    loss_g = -d(g(noise.sample((200,)))).mean()
    opt_g.zero_grad(); loss_g.backward(); opt_g.step()
    for ours, theirs in zip(list(g.parameters()) + list(d.parameters()),
                            list(run.generator.parameters()) + list(run.critic.parameters())):
        torch.testing.assert_close(ours, theirs)
    assert run.history.critic_objective == [pytest.approx(-loss.detach().item())]
    assert run.critic.lipschitz_bound() <= 1.0 + 1e-3


def test_generator_steps_only_every_n_critic_iterations():
    config = GANConfig(target="ring", iterations=4, n_critic=5, snapshot_every=100, eval_samples=100)
    run = train_wgan(config, progress=False)
    torch.manual_seed(config.seed)
    seed_run = train_wgan(config.replace(iterations=1), progress=False)
    # iterations 1..3 move only the critic: the generator after 4 iterations equals the one after 1
    for a, b in zip(run.generator.parameters(), seed_run.generator.parameters()):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("method", ["spectral_normalisation", "weight_clipping", "gradient_penalty", "spectral_regularisation"])
def test_short_runs_record_a_history(method):
    config = GANConfig(target="two_gaussians", lipschitz=method, iterations=60, snapshot_every=20, eval_samples=200)
    run = train_wgan(config, progress=False)
    h = run.history
    assert h.snapshot_iterations == [0, 20, 40, 60]
    assert len(h.critic_objective) == 60 and not h.diverged
    assert all(math.isfinite(w) for w in h.w1)
    assert len(h.samples) == 4 and h.samples[-1].shape == (200, 2)
    assert h.critic_values[-1].shape == (100, 100)


def test_non_finite_loss_is_recorded_as_divergence_not_raised():
    config = GANConfig(target="two_gaussians", iterations=50, lr=1e30, snapshot_every=10, eval_samples=100)
    run = train_wgan(config, progress=False)
    assert run.history.diverged and run.history.diverged_at < 50
    assert run.history.snapshot_iterations[-1] == run.history.diverged_at
    assert run.final["diverged"]
