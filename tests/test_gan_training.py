"""The trainer: penalties against independent computations, a stacked run equal to the same run
alone, and a diverging run recorded while its stack-mates go on unaffected.

Comparisons run in float64: in float32, batched and single products round differently and Adam's
normalised step turns a rounding difference in a near-zero gradient into a move of up to ±lr.
"""

import pytest
import torch

import lib.gan.training as training
from lib.gan.config import GANConfig
from lib.gan.networks import DualVariable, reset_runs
from lib.gan.plots import plot_snapshots
from lib.gan.training import gradient_penalty, spectral_regularisation, train_stack, train_wgan

BASE = GANConfig(iterations=30, snapshot_every=10, eval_samples=100, batch_size=50)
METHODS = {
    "spectral_normalisation": {},
    "weight_clipping": {"clip": 0.05},
    "gradient_penalty": {"gp_weight": 0.1, "lr_decay": True},
    "spectral_regularisation": {"sr_weight": 0.5, "depth": 2, "hidden_dim": 8},
}


def _critic(runs, dtype=torch.float64, **kwargs):
    critic = DualVariable(runs, **kwargs)
    reset_runs(critic, range(runs))
    return critic.to(dtype)


def test_gradient_penalty_by_double_backward_matches_the_one_layer_closed_form():
    critic = _critic(3, hidden_dim=20)
    real, fake = torch.randn(3, 40, 2, dtype=torch.float64), torch.randn(3, 40, 2).double()
    mix = torch.rand(3, 40, 1, dtype=torch.float64)
    y1, y2 = critic.layers
    a = mix * real + (1 - mix) * fake
    active = (a @ y1.weight.transpose(1, 2) + y1.bias[:, None] > 0).double()
    slope = (active * y2.weight) @ y1.weight  # ∇d(a) = Y1ᵀ (relu′(Y1 a + y1) ⊙ Y2ᵀ)
    expected = ((slope.norm(dim=2) - 1) ** 2).mean(dim=1)
    torch.testing.assert_close(gradient_penalty(critic, real, fake, mix), expected)
    # The penalty's gradient in the weights (what double backward is for), by finite differences.
    weight, h = y1.weight, 1e-6
    (grad,) = torch.autograd.grad(gradient_penalty(critic, real, fake, mix).sum(), weight)
    weight.data[1, 4, 0] += h
    up = gradient_penalty(critic, real, fake, mix)[1]
    weight.data[1, 4, 0] -= 2 * h
    down = gradient_penalty(critic, real, fake, mix)[1]
    assert float(grad[1, 4, 0]) == pytest.approx(float(up - down) / (2 * h), rel=1e-5, abs=1e-9)


def test_gradient_penalty_of_a_deep_critic_matches_finite_differences_of_the_critic():
    critic = _critic(2, hidden_dim=10, depth=3)
    real, fake, mix = (
        torch.randn(2, 5, 2).double(),
        torch.randn(2, 5, 2).double(),
        torch.rand(2, 5, 1).double(),
    )
    a, h = mix * real + (1 - mix) * fake, 1e-6
    steps = torch.eye(2, dtype=torch.float64) * h
    with torch.no_grad():
        slope = torch.stack([(critic(a + e) - critic(a - e)) / (2 * h) for e in steps], dim=2)
    expected = ((slope.norm(dim=2) - 1) ** 2).mean(dim=1)
    torch.testing.assert_close(
        gradient_penalty(critic, real, fake, mix), expected, atol=1e-7, rtol=0
    )


def test_spectral_regularisation_is_half_the_sum_of_squared_exact_norms():
    critic = _critic(2, depth=2, hidden_dim=6)
    for _ in range(100):
        critic.update_singular_vectors()
    exact = critic.exact_spectral_norms()  # by SVD
    torch.testing.assert_close(spectral_regularisation(critic), 0.5 * (exact**2).sum(dim=0))


def _assert_same_run(a, b):
    for x, y in zip(
        [*a.generator.state_dict().values(), *a.critic.state_dict().values()],
        [*b.generator.state_dict().values(), *b.critic.state_dict().values()],
    ):
        torch.testing.assert_close(x, y, atol=1e-9, rtol=0)
    ha, hb = a.history, b.history
    assert ha.snapshot_iterations == hb.snapshot_iterations and ha.diverged_at == hb.diverged_at
    torch.testing.assert_close(torch.tensor(ha.critic_objective), torch.tensor(hb.critic_objective))
    torch.testing.assert_close(torch.tensor(ha.w1), torch.tensor(hb.w1))


@pytest.mark.parametrize("method", METHODS)
def test_a_stacked_run_equals_the_same_run_alone(method):
    config = BASE.replace(lipschitz=method, **METHODS[method])
    configs = [config.replace(target=t, seed=s) for t, s in (("ring", 1), ("grid", 2), ("ring", 3))]
    stacked = train_stack(configs, dtype=torch.float64)
    for config, run in zip(configs, stacked):
        assert run.history.stacked_with == 3 and not run.history.diverged
        _assert_same_run(run, train_wgan(config, dtype=torch.float64))


def test_generator_steps_only_every_n_critic_iterations():
    config = BASE.replace(iterations=7, n_critic=3, snapshot_every=7)
    generators = [train_wgan(config.replace(iterations=k)).generator for k in (1, 3, 4, 6, 7)]
    p = [torch.cat([t.flatten() for t in g.parameters()]) for g in generators]
    assert torch.equal(p[0], p[1]) and torch.equal(p[2], p[3]) and not torch.equal(p[1], p[2])
    assert not torch.equal(p[3], p[4])


def test_learning_rates_decay_linearly_to_zero_with_lr_decay(monkeypatch):
    rates, step = [], training.generator_step

    def spy(generator, critic, optimizer, noise):  # the rate each generator step uses
        rates.append(optimizer.param_groups[0]["lr"])
        step(generator, critic, optimizer, noise)

    monkeypatch.setattr(training, "generator_step", spy)
    train_wgan(BASE.replace(iterations=20, n_critic=1, lr=2.0, lr_decay=True))
    torch.testing.assert_close(rates, [2.0 * (1 - k / 20) for k in range(20)])


def test_a_nan_run_is_recorded_as_diverged_and_its_stack_mates_go_on_as_alone(monkeypatch):
    draw_block = training.draw_block

    def poisoned(data, *args):  # the grid run meets a NaN sample at iteration 7
        block = draw_block(data, *args)
        if data.norm(dim=1).min() < 1:  # the grid has a mode at the origin, the ring none
            block[0][7, 0, 0] = float("nan")
        return block

    config = BASE.replace(lipschitz="gradient_penalty")
    configs = [config.replace(target=t, seed=s) for t, s in (("ring", 1), ("grid", 2), ("ring", 3))]
    monkeypatch.setattr(training, "draw_block", poisoned)
    ring, grid, ring3 = train_stack(configs, dtype=torch.float64)
    monkeypatch.undo()
    assert grid.history.diverged_at == 7 and grid.history.snapshot_iterations == [0, 7]
    assert len(grid.history.critic_objective) == 7
    params = torch.cat(
        [p.flatten() for p in (*grid.generator.parameters(), *grid.critic.parameters())]
    )
    assert torch.isfinite(params).all()  # frozen at its last finite state
    before = train_wgan(configs[1].replace(iterations=7), dtype=torch.float64)
    for x, y in zip(grid.generator.parameters(), before.generator.parameters()):
        torch.testing.assert_close(x, y)
    for run, config in ((ring, configs[0]), (ring3, configs[2])):
        _assert_same_run(run, train_wgan(config, dtype=torch.float64))


def test_a_non_finite_snapshot_ends_the_run_as_diverged():
    run = train_wgan(BASE.replace(lr=1e38, lipschitz="weight_clipping", clip=1e30))
    assert run.history.diverged and run.history.diverged_at <= BASE.iterations
    assert run.history.snapshot_iterations[-1] == run.history.diverged_at


def _plain(stacked):
    """Run 0 of a stacked network as an ``nn.Sequential`` of ``nn.Linear`` and ``nn.ReLU``."""
    layers = []
    for layer in stacked.layers:
        linear = torch.nn.Linear(layer.weight.shape[2], layer.weight.shape[1]).double()
        with torch.no_grad():
            linear.weight.copy_(layer.weight[0])
            linear.bias.copy_(layer.bias[0])
        layers += [linear, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("method", ["gradient_penalty", "weight_clipping"])
def test_training_steps_equal_plain_torch_modules_trained_by_backward(method, fused):
    """Critic and generator steps of the trainer against ``nn.Linear`` networks trained the plain
    way (``loss.backward()``, ``torch.optim.Adam``): an oracle that shares neither the run axis
    nor the trainer's code. Fused Adam reads a non-contiguous gradient (autograd's for a weight
    used transposed) as if laid out like the parameter; this catches one reaching it (the
    clipped critic's loss has no penalty, whose gradient would add a contiguous one)."""
    config = GANConfig(lipschitz=method, gp_weight=0.5, clip=0.3, depth=2, hidden_dim=6)
    generator, critic = training.build_networks([config], torch.float64)
    ref_g, ref_d = _plain(generator), _plain(critic)
    adam = dict(lr=1e-2, betas=(0.0, 0.9))
    opt_g = torch.optim.Adam(generator.parameters(), fused=fused, **adam)
    opt_d = torch.optim.Adam(critic.parameters(), fused=fused, **adam)
    ref_opt_g, ref_opt_d = (torch.optim.Adam(m.parameters(), **adam) for m in (ref_g, ref_d))
    torch.manual_seed(0)
    for _ in range(3):
        real, noise = torch.randn(40, 2).double(), torch.randn(40, 2).double()
        mix = torch.rand(40, 1).double()
        with torch.no_grad():
            fake = generator(noise[None])[0]
        training.critic_step(critic, opt_d, real[None], fake[None], mix[None], config)
        mixed = (mix * real + (1 - mix) * fake).requires_grad_(True)
        (slope,) = torch.autograd.grad(ref_d(mixed).sum(), mixed, create_graph=True)
        penalty = config.gp_weight * ((slope.norm(dim=1) - 1) ** 2).mean()
        ref_opt_d.zero_grad()
        (
            ref_d(fake).mean() - ref_d(real).mean() + penalty * (method == "gradient_penalty")
        ).backward()
        ref_opt_d.step()
        if method == "weight_clipping":
            with torch.no_grad():
                for p in ref_d.parameters():
                    p.clamp_(-config.clip, config.clip)
        training.generator_step(generator, critic, opt_g, noise[None])
        ref_opt_g.zero_grad()
        (-ref_d(ref_g(noise)).mean()).backward()
        ref_opt_g.step()
    for stacked, ref in ((generator, ref_g), (critic, ref_d)):
        ours = [p[0] for layer in stacked.layers for p in (layer.weight, layer.bias)]
        torch.testing.assert_close(ours, list(ref.parameters()))


def _layout(t: torch.Tensor) -> list[int]:
    """The strides of the axes longer than one (a stride along an axis of one is never used)."""
    return [stride for stride, n in zip(t.stride(), t.shape) if n > 1]


@pytest.mark.parametrize("method", METHODS)
def test_the_steps_leave_each_gradient_laid_out_like_its_parameter(method):
    """What fused Adam needs (torch 2.14's CPU kernel reads ``.grad`` with the parameter's
    strides): ``backward`` fills ``.grad`` so, where ``torch.autograd.grad`` returns the weight's
    gradient transposed, as the weight enters ``baddbmm`` as ``W.mT``."""
    config = BASE.replace(lipschitz=method, **METHODS[method]).replace(depth=2, hidden_dim=6)
    generator, critic = training.build_networks([config, config.replace(seed=2)], torch.float64)
    opt_d, opt_g = (torch.optim.Adam(m.parameters(), fused=True) for m in (critic, generator))
    real, noise, mix = torch.randn(2, 40, 2).double(), torch.randn(2, 40, 2), torch.rand(2, 40, 1)
    noise, mix = noise.double(), mix.double()
    weight = critic.layers[0].weight
    (transposed,) = torch.autograd.grad(critic(real).sum(), weight)
    assert _layout(transposed) != _layout(weight)  # the case the test is about arises
    training.critic_step(critic, opt_d, real, generator(noise).detach(), mix, config)
    training.generator_step(generator, critic, opt_g, noise)
    for p in (*critic.parameters(), *generator.parameters()):
        assert _layout(p.grad) == _layout(p)


def test_the_snapshot_figure_has_at_most_three_panels_a_row():
    run = train_wgan(BASE)  # snapshots after 0, 10, 20 and 30 iterations
    fig = plot_snapshots(run, n_real=50)
    rows = sorted({round(ax.get_position().y0, 3) for ax in fig.axes})
    assert len(fig.axes) == 4 and len(rows) == 2
    assert [ax.get_title() for ax in fig.axes] == [f"k = {k}" for k in (0, 10, 20, 30)]
