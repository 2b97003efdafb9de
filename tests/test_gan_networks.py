"""The generator, the critic and its Lipschitz constraints (homework §1.2, eq. 1)."""

import pytest
import torch
from torch.nn.utils.parametrizations import spectral_norm

from lib.gan.networks import DualVariable, Generator, power_iteration


def test_generator_is_the_one_hidden_layer_formula():
    torch.manual_seed(0)
    g = Generator(noise_dim=3, output_dim=2, hidden_dim=7)
    w = torch.randn(5, 3)
    expected = (
        g.output.weight @ torch.relu(g.hidden.weight @ w.T + g.hidden.bias[:, None])
        + g.output.bias[:, None]
    )
    torch.testing.assert_close(g(w), expected.T)
    assert g(w).shape == (5, 2)


def test_critic_is_the_one_hidden_layer_formula_and_returns_one_value_per_sample():
    torch.manual_seed(0)
    d = DualVariable(input_dim=2, hidden_dim=9)
    a = torch.randn(4, 2)
    expected = (
        d.output.weight @ torch.relu(d.hidden.weight @ a.T + d.hidden.bias[:, None])
        + d.output.bias[:, None]
    )
    torch.testing.assert_close(d(a), expected.reshape(-1))


def test_singular_vectors_are_buffers_not_parameters():
    d = DualVariable()
    buffers = dict(d.named_buffers())
    assert set(buffers) == {"u_hidden", "u_output"}
    assert all(not b.requires_grad for b in buffers.values())
    assert len(list(d.parameters())) == 4  # Y1, y1, Y2, y2 only
    assert set(buffers) <= set(d.state_dict())


@pytest.mark.parametrize(
    ("factory", "kwargs", "message"),
    [
        (Generator, {"noise_dim": 0}, "noise_dim must be a positive integer"),
        (Generator, {"output_dim": -1}, "output_dim must be a positive integer"),
        (Generator, {"hidden_dim": 0}, "hidden_dim must be a positive integer"),
        (Generator, {"hidden_dim": 2.5}, "hidden_dim must be a positive integer"),
        (DualVariable, {"input_dim": 0}, "input_dim must be a positive integer"),
        (DualVariable, {"hidden_dim": 0}, "hidden_dim must be a positive integer"),
        (DualVariable, {"c": 0.0}, "c must be a positive number"),
        (DualVariable, {"c": -1e-2}, "c must be a positive number"),
        (DualVariable, {"c": float("inf")}, "c must be a positive number"),  # clips nothing
        (DualVariable, {"c": float("nan")}, "c must be a positive number"),
        (DualVariable, {"lipschitz": "magic"}, "lipschitz must be one of"),
    ],
)
def test_invalid_arguments_raise_value_error_naming_them(factory, kwargs, message):
    with pytest.raises(ValueError, match=message):
        factory(**kwargs)


def test_wrong_input_shapes_raise_value_error():
    with pytest.raises(ValueError, match="noise must have shape"):
        Generator(noise_dim=2)(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="a must have shape"):
        DualVariable(input_dim=2)(torch.zeros(5))


def test_power_iteration_converges_to_the_largest_singular_value():
    torch.manual_seed(0)
    w = torch.randn(100, 2, dtype=torch.float64)
    u = torch.nn.functional.normalize(torch.randn(100, dtype=torch.float64), dim=0)
    for _ in range(50):
        sigma = power_iteration(w, u)
    assert abs(float(sigma) - float(torch.linalg.matrix_norm(w, 2))) < 1e-3


def test_power_iteration_matches_torch_spectral_norm_started_from_the_same_u():
    """Same u sequence as torch's parametrisation, and the same normalised weight once converged."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(2, 100).double()
    w = layer.weight.detach().clone()
    u = torch.nn.functional.normalize(torch.randn(100, dtype=torch.float64), dim=0)
    sn_layer = spectral_norm(layer)
    param = sn_layer.parametrizations.weight[0]
    # torch updates u <- W v, v <- W^T u; seeding v = W^T u / |W^T u| makes its u sequence ours.
    param._u.copy_(u)
    param._v.copy_(torch.nn.functional.normalize(w.T @ u, dim=0))
    ours = u.clone()
    sn_layer.train()
    for _ in range(30):
        sigma = power_iteration(w, ours)
        torch_weight = sn_layer.weight  # one power-iteration step per access in training mode
        torch.testing.assert_close(ours, param._u)
    torch.testing.assert_close(w / sigma, torch_weight.detach(), atol=1e-3, rtol=0)
    assert abs(float(sigma) - float(torch.linalg.matrix_norm(w, 2))) < 1e-3


def test_spectral_normalisation_makes_every_weight_of_norm_one_in_place():
    torch.manual_seed(0)
    d = DualVariable(hidden_dim=50)
    with torch.no_grad():
        d.hidden.weight.mul_(7.0)
    weight = d.hidden.weight
    for _ in range(30):
        sigmas = d.spectral_normalisation()
    assert d.hidden.weight is weight  # same Parameter: the optimiser still holds it
    assert all(abs(s - 1.0) < 1e-3 for s in sigmas)
    for exact in d.exact_spectral_norms():
        assert abs(exact - 1.0) < 1e-3
    assert d.lipschitz_bound() <= 1.0 + 1e-3


def test_critic_stays_lipschitz_after_training_steps_with_spectral_normalisation():
    torch.manual_seed(0)
    d = DualVariable()
    opt = torch.optim.Adam(d.parameters(), lr=1e-3, betas=(0.0, 0.9))
    for _ in range(200):
        a = torch.randn(64, 2)
        loss = -(d(a + 1).mean() - d(a).mean())
        opt.zero_grad()
        loss.backward()
        opt.step()
        d.enforce_lipschitz()
    assert d.lipschitz_bound() <= 1.0 + 1e-2
    a = torch.randn(256, 2, requires_grad=True)
    (grad,) = torch.autograd.grad(d(a).sum(), a)
    assert float(grad.norm(dim=1).max()) <= d.lipschitz_bound() + 1e-6


def test_weight_clipping_clamps_every_parameter():
    torch.manual_seed(0)
    d = DualVariable(c=0.05, lipschitz="weight_clipping")
    with torch.no_grad():
        for p in d.parameters():
            p.mul_(100.0)
    d.enforce_lipschitz()
    for p in d.parameters():
        largest = float(p.detach().abs().max())
        assert largest <= torch.tensor(0.05).item()  # 0.05 as a float32
        assert largest == pytest.approx(0.05)


@pytest.mark.parametrize("method", ["gradient_penalty", "spectral_regularisation"])
def test_penalty_methods_leave_weights_unchanged(method):
    torch.manual_seed(0)
    d = DualVariable(lipschitz=method)
    before = [p.detach().clone() for p in d.parameters()]
    d.enforce_lipschitz()
    for b, p in zip(before, d.parameters()):
        torch.testing.assert_close(b, p.detach())


def test_spectral_normalisation_leaves_a_zero_weight_zero_and_recovers():
    torch.manual_seed(0)
    d = DualVariable(hidden_dim=20)
    u_before = d.u_hidden.clone()
    with torch.no_grad():
        d.hidden.weight.zero_()
    sigmas = d.spectral_normalisation()
    assert float(sigmas[0]) == 0.0
    assert (
        float(d.hidden.weight.detach().abs().max()) == 0.0 and torch.isfinite(d.hidden.weight).all()
    )
    torch.testing.assert_close(d.u_hidden, u_before)  # not zeroed: it can track a new weight
    with torch.no_grad():
        d.hidden.weight.copy_(torch.randn(20, 2) * 5)
    for _ in range(30):
        d.spectral_normalisation()
    assert abs(d.exact_spectral_norms()[0] - 1.0) < 1e-3
