"""Training loop, divergence handling and the resumable grid of MNIST runs."""

import dataclasses
import math

import pytest
import torch

from lib.config import OptimizerGridConfig
from lib.mnist import grid as mnist_grid
from lib.mnist import training as mnist_training
from lib.mnist.data import IMAGE_PIXELS, MNISTTensors
from lib.mnist.grid import grid_runs, run_entry, run_grid
from lib.mnist.training import (
    evaluate,
    make_mlp,
    make_optimizer,
    train_epoch,
    train_run,
)
from lib.optim.optimizers import AMSGrad
from lib.runtime import cpu_threads


def _blobs(n, seed=0):
    """A separable 10-class problem with MNIST's shapes: class k lights up pixel block k."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=generator)
    images = 0.2 * torch.rand(n, IMAGE_PIXELS, generator=generator)
    for k in range(10):
        images[labels == k, 70 * k : 70 * k + 70] += 0.8
    return MNISTTensors(images.clamp_(0, 1), labels)


TINY = OptimizerGridConfig(
    optimizers=("SGD", "Adam"),
    learning_rates=(0.1, 1e-3),
    seeds=(0, 1),
    epochs=2,
    batch_size=50,
    hidden_dim=32,
    train_size=300,
    test_size=100,
    trace_points_per_epoch=3,
    workers=1,
)


def test_mlp_shapes_and_parameter_count():
    model = make_mlp(256)
    assert model(torch.zeros(7, IMAGE_PIXELS)).shape == (7, 10)
    assert sum(p.numel() for p in model.parameters()) == 784 * 256 + 256 + 256 * 256 + 256 + 2570


def test_training_learns_a_separable_problem():
    data = _blobs(500)
    torch.manual_seed(0)
    model = make_mlp(32)
    optimizer = make_optimizer("MomentumSGD", model.parameters(), 0.05)
    generator = torch.Generator().manual_seed(0)
    first = train_epoch(model, optimizer, data, 50, generator, trace_points=5)
    for _ in range(3):
        last = train_epoch(model, optimizer, data, 50, generator)
    assert len(first.loss_trace) == 5 and not first.diverged
    assert last.loss < first.loss and evaluate(model, _blobs(200, seed=1))[1] > 0.95


def test_batches_follow_the_generator():
    data = _blobs(120)
    losses = []
    for _ in range(2):
        torch.manual_seed(0)
        model = make_mlp(8)
        stats = train_epoch(
            model,
            make_optimizer("SGD", model.parameters(), 0.1),
            data,
            25,
            torch.Generator().manual_seed(3),
            trace_points=5,
        )
        losses.append(stats.loss_trace)
    assert losses[0] == losses[1]  # 120 / 25: five batches, the last one partial


def test_non_finite_loss_ends_the_run_as_diverged():
    train = _blobs(200)
    train.images[:] = math.nan  # the very first loss is NaN
    result = train_run("Adam", 1e-3, 0, train, _blobs(50), TINY)
    assert result.diverged and result.diverged_epoch == 1
    assert result.test_accuracy == [] and result.loss_trace == []
    assert math.isnan(result.final_test_accuracy)


class _Poisoning(torch.optim.SGD):
    """SGD that sets every weight to ``value`` after its ``at``-th step."""

    def __init__(self, params, lr, at, value):
        super().__init__(params, lr=lr)
        self.at, self.value, self.steps = at, value, 0

    def step(self, closure=None):
        super().step(closure)
        self.steps += 1
        if self.steps == self.at:
            with torch.no_grad():
                for p in self.param_groups[0]["params"]:
                    p.fill_(self.value)


def _poison(monkeypatch, at, value):
    monkeypatch.setattr(
        mnist_training,
        "make_optimizer",
        lambda name, params, lr, **kwargs: _Poisoning(params, lr, at, value),
    )


def test_divergence_in_a_later_epoch_keeps_the_finished_epochs(monkeypatch):
    """Weights set to infinity by the 7th step: the 8th loss (epoch 2, batch 4 of 4) is NaN."""
    _poison(monkeypatch, at=7, value=math.inf)
    result = train_run("SGD", 0.1, 0, _blobs(200), _blobs(50), TINY)
    assert result.diverged_epoch == 2 and len(result.test_accuracy) == 1
    assert len(result.loss_trace) == 3 + 2  # epoch 1's slices, then slices ending at batches 2, 3
    assert all(math.isfinite(v) for v in result.loss_trace)


@pytest.mark.parametrize(
    "value, why",
    [(math.nan, "a non-finite parameter"), (1e30, "finite weights whose test logits overflow")],
)
def test_weights_that_blow_up_on_an_epochs_last_batch_end_the_run(monkeypatch, value, why):
    """The 8th step is epoch 2's last: every loss of the epoch was finite, its update was not."""
    _poison(monkeypatch, at=8, value=value)
    result = train_run("SGD", 0.1, 0, _blobs(200), _blobs(50), TINY)
    assert result.diverged_epoch == 2, why
    assert len(result.test_accuracy) == 1 and len(result.loss_trace) == 3 + 3


@pytest.mark.parametrize("lr", [1e38, math.inf])
def test_a_huge_learning_rate_is_recorded_as_diverged_and_stored(tmp_path, lr):
    result = train_run("SGD", lr, 0, _blobs(200), _blobs(50), TINY)
    assert result.diverged_epoch == 1 and result.test_accuracy == []
    entry = run_entry(("SGD", lr, 0), TINY, tmp_path)
    entry.save(dataclasses.asdict(result))
    assert entry.load()["diverged_epoch"] == 1


def test_epoch_figures_equal_an_independent_evaluation_when_nothing_moves():
    """With lr = 0 the weights stay put, so the epoch's running loss and accuracy (summed on the
    device over minibatches of unequal sizes) equal one evaluation of the whole set."""
    data = _blobs(230)
    torch.manual_seed(0)
    model = make_mlp(16)
    stats = train_epoch(
        model,
        make_optimizer("SGD", model.parameters(), 0.0),
        data,
        50,
        torch.Generator().manual_seed(0),
        trace_points=2,
    )
    loss, accuracy = evaluate(model, data)
    assert stats.loss == pytest.approx(loss, rel=1e-6) and stats.accuracy == accuracy
    assert stats.loss == pytest.approx(
        (3 * 50 * stats.loss_trace[0] + 80 * stats.loss_trace[1]) / 230, rel=1e-6
    )  # batches 1-3, then 4-5 (50 + 30)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_run_on_cuda_matches_the_cpu_run(monkeypatch):
    config = TINY.replace(epochs=2)
    monkeypatch.setenv("BOOK_DEVICE", "cpu")
    cpu = train_run("AMSGrad", 1e-3, 0, _blobs(300), _blobs(100), config)
    monkeypatch.setenv("BOOK_DEVICE", "cuda")
    cuda = train_run("AMSGrad", 1e-3, 0, _blobs(300), _blobs(100), config)
    assert not cuda.diverged and len(cuda.loss_trace) == len(cpu.loss_trace)
    assert cuda.loss_trace == pytest.approx(cpu.loss_trace, rel=1e-3)
    assert cuda.test_accuracy == pytest.approx(cpu.test_accuracy, abs=0.02)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_fused_optimizer_step_on_cuda_matches_the_loop():
    torch.manual_seed(0)
    params = [torch.randn(64, 32, device="cuda", requires_grad=True) for _ in range(2)]
    twins = [p.detach().clone().requires_grad_() for p in params]
    loop, fused = AMSGrad(params, lr=1e-2), AMSGrad(twins, lr=1e-2, fused=True)
    for _ in range(5):
        for p, q in zip(params, twins):
            p.grad = torch.sin(p.detach() * 3)
            q.grad = torch.sin(q.detach() * 3)
        loop.step()
        fused.step()
    for p, q in zip(params, twins):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


def _without_times(results):
    return [{k: v for k, v in dataclasses.asdict(r).items() if k != "epoch_time"} for r in results]


def test_same_seed_same_run_and_history_lengths():
    a = train_run("SGD", 0.1, 0, _blobs(300), _blobs(100), TINY)
    b = train_run("SGD", 0.1, 0, _blobs(300), _blobs(100), TINY)
    assert _without_times([a]) == _without_times([b]) and not a.diverged
    assert len(a.train_loss) == len(a.test_accuracy) == len(a.epoch_time) == TINY.epochs
    assert len(a.loss_trace) == TINY.epochs * TINY.trace_points_per_epoch


@pytest.fixture
def blob_mnist(monkeypatch):
    """Replace MNIST by the blob problem inside run_grid and count how often it is loaded."""
    calls = []

    def fake_load(train, size=None):
        calls.append(train)
        return _blobs(size, seed=0 if train else 1)

    monkeypatch.setattr(mnist_grid, "load_mnist", fake_load)
    return calls


def test_grid_resumes_and_only_loads_when_everything_is_stored(tmp_path, blob_mnist, monkeypatch):
    results = run_grid(TINY, tmp_path, progress=False)
    assert [(r.optimizer, r.lr, r.seed) for r in results] == grid_runs(TINY)
    assert len(list((tmp_path / "mnist").glob("*.pt"))) == 8
    run_entry(("Adam", 1e-3, 1), TINY, tmp_path).path.unlink()  # an interrupted grid
    trained = []
    real_train_run = mnist_grid.train_run
    monkeypatch.setattr(
        mnist_grid, "train_run", lambda *args: trained.append(args[:3]) or real_train_run(*args)
    )
    again = run_grid(TINY, tmp_path, progress=False)
    assert trained == [("Adam", 1e-3, 1)] and _without_times(again) == _without_times(results)
    blob_mnist.clear()
    assert run_grid(TINY, tmp_path, progress=False) == again and blob_mnist == []


def test_parallel_workers_give_the_same_results(tmp_path, monkeypatch):
    """Two single-threaded worker processes (spawned) reproduce the in-process runs."""
    config = TINY.replace(optimizers=("AMSGrad",), learning_rates=(1e-3,), epochs=1)
    train, test = _blobs(300), _blobs(100, seed=1)
    monkeypatch.setattr(
        mnist_grid,
        "load_mnist",
        lambda train=True, size=None, _data=(train, test): _data[0] if train else _data[1],
    )
    parallel = run_grid(config.replace(workers=2), tmp_path / "a", progress=False)
    serial = run_grid(config, tmp_path / "b", progress=False)
    strip = [(r.train_loss, r.test_accuracy, r.loss_trace) for r in parallel]
    assert strip == [(r.train_loss, r.test_accuracy, r.loss_trace) for r in serial]


def test_training_mode_flushes_subnormals_and_restores_threads():
    threads = torch.get_num_threads()
    subnormal = torch.tensor([1e-40])
    with cpu_threads(1):
        assert torch.get_num_threads() == 1
        assert (subnormal * 1.0).item() == 0.0
    assert torch.get_num_threads() == threads and (subnormal * 1.0).item() > 0


@pytest.mark.parametrize("wrong_logit, diverged", [(1e12, True), (1e8, False)])
def test_a_finite_but_exploded_loss_ends_the_run_as_diverged(monkeypatch, wrong_logit, diverged):
    """Logits pushed to ``wrong_logit`` on class 0 (lr = 0 keeps them there): the cross-entropy,
    computed independently below, is finite either way; above DIVERGED_LOSS the run ends."""
    model = mnist_training.make_mlp(TINY.hidden_dim)
    with torch.no_grad():
        model[-1].bias[0] = wrong_logit
    monkeypatch.setattr(mnist_training, "make_mlp", lambda hidden: model)
    train = _blobs(200)
    loss = torch.nn.functional.cross_entropy(model(train.images), train.labels).item()
    assert math.isfinite(loss) and (loss > mnist_training.DIVERGED_LOSS) == diverged
    result = train_run("SGD", 0.0, 0, train, _blobs(50), TINY)
    assert result.diverged == diverged
    assert result.diverged_epoch == (1 if diverged else None)
