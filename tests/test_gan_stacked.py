"""Stacked WGAN training: R runs as one equal R separate runs of the reference trainer.

The comparisons run in float64. In float32 the two paths round differently (batched against
single matrix products), and Adam's normalised step turns a rounding difference in a gradient
component near zero into a move of up to ±lr, so float32 parameters drift apart by O(lr) within a
few steps even though both paths are right; in float64 the same differences stay near 1e-12.
"""

import pytest
import torch

from lib.config import GANConfig
from lib.gan.networks import DualVariable
from lib.gan.stacked import (
    StackedAdam,
    StackedWGAN,
    power_iteration,
    stack_key,
    train_stacked,
)
from lib.gan.training import build_networks, train_wgan

BASE = GANConfig(iterations=30, snapshot_every=10, eval_samples=100)
MIXED = [
    BASE.replace(target="ring", lipschitz="spectral_normalisation", seed=1),
    BASE.replace(target="grid", lipschitz="gradient_penalty", seed=2),
    BASE.replace(target="two_gaussians", lipschitz="weight_clipping", seed=3, clip=0.05),
    BASE.replace(target="ring", lipschitz="spectral_regularisation", seed=4, sr_weight=0.5),
    BASE.replace(
        target="ring",
        lipschitz="gradient_penalty",
        gp_weight=0.1,
        lr_decay=True,
        seed=5,
        lr=3e-3,
        betas=(0.5, 0.99),
    ),
]


def _state(run):
    return [
        t.detach()
        for t in (*run.generator.parameters(), *run.critic.parameters(), *run.critic.buffers())
    ]


def _assert_same_run(stacked, separate, atol):
    for a, b in zip(_state(stacked), _state(separate)):
        torch.testing.assert_close(a, b, atol=atol, rtol=0)
    hs, hr = stacked.history, separate.history
    assert hs.snapshot_iterations == hr.snapshot_iterations
    assert hs.diverged_at == hr.diverged_at
    assert len(hs.critic_objective) == len(hr.critic_objective)
    torch.testing.assert_close(
        torch.tensor(hs.critic_objective), torch.tensor(hr.critic_objective), atol=atol, rtol=0
    )
    torch.testing.assert_close(torch.tensor(hs.w1), torch.tensor(hr.w1), atol=atol, rtol=0)


def test_stacked_runs_equal_separate_runs_in_float64():
    """Five runs with different targets, seeds, methods, c, weights, lr, decay and betas."""
    stacked = train_stacked(MIXED, dtype=torch.float64)
    for config, run in zip(MIXED, stacked):
        assert run.config == config and run.history.stacked_with == len(MIXED)
        _assert_same_run(run, train_wgan(config, progress=False, dtype=torch.float64), atol=1e-9)


def test_stacked_objective_follows_separate_runs_in_float32():
    configs = MIXED[:2]
    for config, run in zip(configs, train_stacked(configs)):
        separate = train_wgan(config, progress=False)
        torch.testing.assert_close(
            torch.tensor(run.history.critic_objective),
            torch.tensor(separate.history.critic_objective),
            atol=1e-3,
            rtol=0,
        )


def test_a_diverging_run_is_frozen_while_the_others_continue():
    """In float32 (float64 does not overflow at lr = 1e30): the diverging runs stop where the
    reference stops them, and the others train exactly as in a stack without them."""
    healthy = [
        BASE.replace(target="ring", seed=1),
        BASE.replace(target="grid", seed=4, lipschitz="gradient_penalty"),
    ]
    failing = [
        BASE.replace(target="ring", seed=2, lr=1e30, lipschitz="gradient_penalty"),
        BASE.replace(target="ring", seed=3, lr=1e30, lipschitz="weight_clipping"),
    ]
    mixed = train_stacked([healthy[0], failing[0], healthy[1], failing[1]])
    alone = train_stacked(healthy)
    assert [r.history.diverged for r in mixed] == [False, True, False, True]
    for run, reference in zip((mixed[0], mixed[2]), alone):
        for a, b in zip(_state(run), _state(reference)):
            torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    for run, config in zip((mixed[1], mixed[3]), failing):
        separate = train_wgan(config, progress=False)
        assert run.history.diverged_at == separate.history.diverged_at < BASE.iterations
        assert run.history.snapshot_iterations == separate.history.snapshot_iterations
    # The gradient-penalty run stopped at k = 0 on the generator's non-finite loss, before the
    # generator's first move (the critic's lr-1e30 steps move each weight by ±1e30, which float32
    # rounding makes too far apart to compare).
    assert mixed[1].history.diverged_at == 0
    generator, _ = build_networks(failing[0])
    for a, b in zip(mixed[1].generator.parameters(), generator.parameters()):
        assert torch.equal(a, b)


def test_stacked_adam_equals_one_torch_adam_per_run():
    torch.manual_seed(0)
    lr = torch.tensor([1e-3, 5e-2, 1e-1], dtype=torch.float64)
    betas = torch.tensor([[0.0, 0.9], [0.9, 0.999], [0.5, 0.5]], dtype=torch.float64)
    flat = torch.randn(3, 7, dtype=torch.float64)
    separate = [flat[r].clone().requires_grad_(True) for r in range(3)]
    torch_adams = [
        torch.optim.Adam([p], lr=float(lr[r]), betas=tuple(betas[r].tolist()))
        for r, p in enumerate(separate)
    ]
    stacked = StackedAdam(flat, lr, betas)
    alive = torch.tensor([True, True, True])
    for step in range(6):
        grads = torch.randn(3, 7, dtype=torch.float64)
        if step == 4:
            alive = torch.tensor([True, False, True])  # run 1 diverged: it must not move any more
        stacked.step(grads, alive)
        for r, (p, opt) in enumerate(zip(separate, torch_adams)):
            if alive[r]:
                p.grad = grads[r].clone()
                opt.step()
    for r in range(3):
        torch.testing.assert_close(flat[r], separate[r].detach(), atol=1e-12, rtol=0)


def test_stacked_power_iteration_keeps_a_zero_weight_zero():
    torch.manual_seed(0)
    weights = torch.randn(2, 5, 3, dtype=torch.float64)
    weights[1] = 0.0
    u = torch.nn.functional.normalize(torch.randn(2, 5, dtype=torch.float64), dim=1)
    u_before = u.clone()
    sigma = power_iteration(weights, u, torch.tensor([True, True]))
    assert torch.isfinite(sigma).all() and float(sigma[1]) == 0.0
    torch.testing.assert_close(u[1], u_before[1])  # kept, so it can track the weight later
    for _ in range(50):
        sigma = power_iteration(weights, u, torch.tensor([True, True]))
    assert float(sigma[0]) == pytest.approx(
        float(torch.linalg.matrix_norm(weights[0], 2)), rel=1e-6
    )


def test_spectral_normalisation_of_a_zero_critic_stays_finite_in_a_stack():
    configs = [BASE.replace(seed=1), BASE.replace(seed=2)]
    networks = [build_networks(c) for c in configs]
    with torch.no_grad():
        networks[1][1].hidden.weight.zero_()
    stack = StackedWGAN(configs, [g for g, _ in networks], [d for _, d in networks])
    stack.project()
    assert torch.isfinite(stack.critic.flat).all()
    assert float(stack.critic.data[0][1].abs().max()) == 0.0


def test_only_runs_of_equal_shapes_stack():
    assert stack_key(BASE.replace(seed=2, lipschitz="weight_clipping", lr=0.1)) == stack_key(BASE)
    assert stack_key(BASE.replace(batch_size=100)) != stack_key(BASE)
    configs = [BASE, BASE.replace(hidden_dim=10)]
    networks = [build_networks(c) for c in configs]
    with pytest.raises(ValueError, match="configs must share every field but"):
        StackedWGAN(configs, [g for g, _ in networks], [d for _, d in networks])


def test_the_networks_returned_are_usable_modules():
    (run,) = train_stacked([BASE.replace(iterations=5, snapshot_every=5)])
    assert isinstance(run.critic, DualVariable)
    assert run.critic(torch.zeros(3, 2)).shape == (3,)
    assert run.critic.lipschitz_bound() <= 1 + 1e-3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_stacked_runs_on_cuda_equal_the_cpu_runs():
    configs = MIXED[:3]
    on_gpu = train_stacked(configs, dtype=torch.float64, device="cuda")
    for run, reference in zip(on_gpu, train_stacked(configs, dtype=torch.float64)):
        _assert_same_run(run, reference, atol=1e-9)
