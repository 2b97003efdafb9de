"""The networks with a run axis, spectral normalisation, and each run's draws."""

import pytest
import torch
from torch.nn.utils.parametrizations import spectral_norm

from lib.gan.networks import DualVariable, Generator, power_iteration, reset_runs
from lib.gan.targets import RunStream, draw_block, make_target, training_set


def test_each_run_applies_the_homework_formula_to_its_own_batch():
    g = Generator(runs=3, hidden_dim=7)
    reset_runs(g, [1, 2, 3])
    noise = torch.randn(3, 5, 2)
    (x1, x2) = g.layers
    for r in range(3):
        hidden = torch.relu(noise[r] @ x1.weight[r].T + x1.bias[r])
        torch.testing.assert_close(g(noise)[r], hidden @ x2.weight[r].T + x2.bias[r])


def test_a_run_is_initialised_from_its_own_seed_whatever_its_neighbours():
    alone, stacked = DualVariable(runs=1, depth=2), DualVariable(runs=3, depth=2)
    reset_runs(alone, [5])
    reset_runs(stacked, [3, 5, 7])
    for a, b in zip(alone.state_dict().values(), stacked.state_dict().values()):
        torch.testing.assert_close(a[0], b[1])
    assert len(stacked.layers) == 3 and not torch.equal(stacked.layers[0].weight[0], b[1])


def test_power_iteration_estimate_converges_to_the_exact_norm_by_svd():
    torch.manual_seed(0)
    weight = torch.randn(4, 30, 6, dtype=torch.float64)
    u = torch.nn.functional.normalize(torch.randn(4, 30, 1, dtype=torch.float64), dim=1)
    sigma = power_iteration(weight, u, n_steps=200)
    torch.testing.assert_close(sigma.flatten(), torch.linalg.matrix_norm(weight, ord=2))
    left = torch.linalg.svd(weight).U[:, :, :1]  # the top left singular vectors, up to sign
    torch.testing.assert_close((u * left).sum(dim=1).abs(), torch.ones(4, 1, dtype=torch.float64))


def test_power_iteration_follows_torch_spectral_norm_from_the_same_u():
    torch.manual_seed(1)
    layer = spectral_norm(torch.nn.Linear(6, 9), n_power_iterations=1)
    param = layer.parametrizations.weight[0]
    u = param._u.clone()[None, :, None]
    weight = layer.parametrizations.weight.original.detach()[None]
    for _ in range(5):
        layer.train()
        torch_weight = layer.weight  # runs one power step, then W / σ̂
        sigma = power_iteration(weight, u)
        torch.testing.assert_close(u[0, :, 0], param._u)
        torch.testing.assert_close(weight[0] / sigma[0], torch_weight.detach())


def test_spectral_normalisation_gives_every_weight_norm_one_by_svd():
    critic = DualVariable(runs=2, hidden_dim=10, depth=2)
    reset_runs(critic, [1, 2])
    with torch.no_grad():
        critic.layers[1].weight.mul_(7.0)
    for _ in range(30):
        critic.spectral_normalisation()
    exact = critic.exact_spectral_norms()  # torch.linalg.matrix_norm(ord=2), by SVD
    torch.testing.assert_close(exact, torch.ones(3, 2), atol=1e-4, rtol=0)
    assert [n for n, _ in critic.named_buffers()] == [f"layers.{i}.u" for i in range(3)]
    assert all("u" not in n for n, _ in critic.named_parameters())
    generator = Generator(runs=2, depth=2)
    assert list(generator.buffers()) == [] and "u" not in str(list(generator.state_dict()))


def test_weight_clipping_clamps_every_parameter():
    critic = DualVariable(runs=2)
    reset_runs(critic, [1, 2])
    critic.weight_clipping(0.01)
    assert all(p.abs().max() <= 0.01 for p in critic.parameters())


def test_run_streams_repeat_their_draws_and_leave_the_global_generator_alone():
    ring = training_set(make_target("ring"), 1_000, RunStream(5), torch.float32)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = draw_block(ring, 2, 50, RunStream(4), torch.float32)
    b = draw_block(ring, 2, 50, RunStream(4), torch.float32)
    assert torch.equal(torch.get_rng_state(), before)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)
    assert [tuple(x.shape) for x in a] == [(100, 50, 2), (100, 50, 2), (100, 50, 2), (100, 50, 1)]


@pytest.mark.parametrize("name", ["two_gaussians", "ring", "grid", "pacgan_ring", "pacgan_grid"])
def test_draws_have_the_mixture_moments_and_pick_the_samples_uniformly(name):
    target = make_target(name)
    data = training_set(target, 100_000, RunStream(1), torch.float64)
    law = target.distribution(torch.float64)
    spread = (law.variance / len(data)).sqrt()  # the n samples have the mixture's moments
    assert ((data.mean(dim=0) - law.mean).abs() < 4 * spread).all()
    assert ((data.var(dim=0) / law.variance - 1).abs() < 0.03).all()
    # minibatches from a set of 50 points: each drawn 800 times out of 40,000 (binomial std 28)
    small = data[:50]
    real, critic_noise, _, mix = draw_block(small, 2, 400, RunStream(0), torch.float64)
    hits = (real.reshape(-1, 1, 2) == small).all(dim=2)
    assert (hits.sum(dim=1) == 1).all()  # every draw is one of the set's points
    counts = hits.sum(dim=0).double()
    assert ((counts - 800).abs() < 5 * 28).all()
    chi2 = float(((counts - 800) ** 2 / 800).sum())  # 49 degrees of freedom: mean 49, std 9.9
    assert chi2 < 49 + 5 * 9.9
    noise = critic_noise.reshape(-1, 2)
    assert noise.mean(dim=0).abs().max() < 0.03 and (noise.var(dim=0) - 1).abs().max() < 0.03
    assert 0 <= mix.min() and mix.max() <= 1 and abs(float(mix.mean()) - 0.5) < 0.01
