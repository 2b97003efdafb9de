"""Fault injection: what a user or a crash can do to stored results and settings, and what it gives.

Each test injects one fault into the MNIST grid's store (on a tiny synthetic problem with
MNIST's shapes, so no real training happens) or into an experiment's settings, and checks the
outcome: a bad stored file is logged and its run trained again with the numbers a clean run
gives; a code or settings change retrains; an interrupted grid resumes to the same numbers; a
bad setting is refused with a ValueError naming it. The faults of the MNIST files and of the
submission archive are tested beside their modules (``test_mnist.py``, ``test_submission.py``).
"""

import json
import logging
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lib import store
from lib.config import (
    BenchmarkConfig,
    GANComparisonConfig,
    GANConfig,
    OptimizerGridConfig,
)
from lib.mnist import grid as mnist_grid
from lib.mnist.data import IMAGE_PIXELS, MNISTTensors
from lib.mnist.store import RunResult, load_run, results_dir, run_path, save_run

TESTS = Path(__file__).parent
TINY = OptimizerGridConfig(
    optimizers=("SGD", "Adam"),
    learning_rates=(0.1,),
    seeds=(0, 1),
    epochs=2,
    batch_size=50,
    hidden_dim=8,
    train_size=200,
    test_size=50,
    trace_points_per_epoch=2,
    workers=1,
)


def synthetic(train: bool, size: int | None = None) -> MNISTTensors:
    """A separable 10-class problem with MNIST's shapes (class k lights up pixel block k)."""
    n = size or 100
    generator = torch.Generator().manual_seed(0 if train else 1)
    labels = torch.randint(0, 10, (n,), generator=generator)
    images = 0.2 * torch.rand(n, IMAGE_PIXELS, generator=generator)
    for k in range(10):
        images[labels == k, 70 * k : 70 * k + 70] += 0.8
    return MNISTTensors(images.clamp_(0, 1), labels)


@pytest.fixture
def trained(monkeypatch):
    """run_grid on the synthetic problem, on the CPU (tiny networks, and bitwise-reproducible
    runs on any machine); records every (optimizer, lr, seed) it trains."""
    monkeypatch.setenv("BOOK_DEVICE", "cpu")
    calls = []
    real_train_run = mnist_grid.train_run
    monkeypatch.setattr(mnist_grid, "load_mnist", synthetic)
    monkeypatch.setattr(
        mnist_grid, "train_run", lambda *args: calls.append(args[:3]) or real_train_run(*args)
    )
    return calls


def numbers(results):
    """What a run computed (its wall-clock epoch times aside)."""
    return [{k: v for k, v in r.to_json().items() if k != "epoch_time"} for r in results]


# --------------------------------------------------------------------------------------------
# Stored runs that are wrong


def _edit_record(path: Path, **changes) -> None:
    record = json.loads(path.read_text())
    record.update(changes)
    path.write_text(json.dumps(record))


def _corruptions(folder: Path) -> dict:
    """Ways to spoil the stored SGD seed-0 run; each takes its path."""
    other = run_path(folder, "Adam", 0.1, 1)
    return {
        "truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
        "garbage": lambda p: p.write_bytes(os.urandom(300)),
        "non-UTF-8": lambda p: p.write_bytes(b"\xff\xfe" + p.read_bytes()),
        "empty": lambda p: p.write_bytes(b""),
        "NaN": lambda p: p.write_text(
            p.read_text().replace(json.dumps(json.loads(p.read_text())["test_loss"][0]), "NaN", 1)
        ),
        "null in a finished run": lambda p: _edit_record(p, test_loss=[None, 0.5]),
        "string for a number": lambda p: _edit_record(p, test_accuracy=["0.9", 0.9]),
        "accuracy above 1": lambda p: _edit_record(p, test_accuracy=[0.5, 1.5]),
        "wrong length": lambda p: _edit_record(p, train_loss=[1.0]),
        "wrong trace length": lambda p: _edit_record(p, loss_trace=[1.0, 1.0, 1.0]),
        "diverged after the last epoch": lambda p: _edit_record(p, diverged_epoch=3),
        "a changed number in the key": lambda p: _edit_record(p, key="0" * 16),
        "another run's file": lambda p: p.write_bytes(other.read_bytes()),
        "another learning rate": lambda p: _edit_record(p, lr=0.1000001),
        "a missing field": lambda p: p.write_text(
            json.dumps({k: v for k, v in json.loads(p.read_text()).items() if k != "seed"})
        ),
        "a JSON list": lambda p: p.write_text("[1, 2]"),
        "a 400-digit learning rate": lambda p: p.write_text(
            p.read_text().replace('"lr": 0.1', '"lr": 1' + "0" * 400)
        ),
        "a 400-digit loss": lambda p: p.write_text(
            p.read_text().replace(
                json.dumps(json.loads(p.read_text())["train_loss"][0]), "1" + "0" * 400, 1
            )
        ),
        "a folder": lambda p: (p.unlink(), p.mkdir()),
    }


@pytest.mark.parametrize("fault", list(_corruptions(Path())))
def test_a_bad_stored_run_is_logged_and_trained_again(fault, tmp_path, trained, caplog):
    clean = mnist_grid.run_grid(TINY, tmp_path / "clean", progress=False)
    mnist_grid.run_grid(TINY, tmp_path, progress=False)
    folder = results_dir(TINY, tmp_path)
    path = run_path(folder, "SGD", 0.1, 0)
    _corruptions(folder)[fault](path)
    trained.clear()
    if fault == "a folder":  # cannot be replaced by a file: the grid reports what to delete
        with caplog.at_level(logging.WARNING):
            assert load_run(path, TINY) is None
        assert str(path) in caplog.text
        return
    with caplog.at_level(logging.WARNING):
        again = mnist_grid.run_grid(TINY, tmp_path, progress=False)
    assert trained == [("SGD", 0.1, 0)]  # only the spoilt run
    assert numbers(again) == numbers(clean)
    assert str(path) in caplog.text and "ignored" in caplog.text
    assert load_run(path, TINY) is not None  # the file was replaced by a good one


def test_a_good_stored_run_is_loaded_not_retrained(tmp_path, trained, caplog):
    first = mnist_grid.run_grid(TINY, tmp_path, progress=False)
    trained.clear()
    with caplog.at_level(logging.WARNING):
        assert numbers(mnist_grid.run_grid(TINY, tmp_path, progress=False)) == numbers(first)
    assert trained == [] and caplog.text == ""


def test_diverged_runs_are_stored_with_their_non_finite_values(tmp_path):
    result = RunResult(
        "SGD",
        0.1,
        0,
        {
            k: getattr(TINY, k)
            for k in (
                "epochs",
                "batch_size",
                "hidden_dim",
                "train_size",
                "test_size",
                "trace_points_per_epoch",
            )
        },
        train_loss=[2.0],
        train_accuracy=[0.3],
        test_loss=[math.nan],
        test_accuracy=[0.1],
        epoch_time=[0.1],
        loss_trace=[2.0, math.inf],
        diverged_epoch=1,
    )
    path = run_path(tmp_path, "SGD", 0.1, 0)
    save_run(result, path)
    json.loads(path.read_text())  # valid JSON: NaN and inf stored as null
    loaded = load_run(path, TINY)
    assert loaded.diverged_epoch == 1 and math.isnan(loaded.test_loss[0])
    assert math.isnan(loaded.loss_trace[1]) and loaded.train_loss == [2.0]


def test_a_freshly_trained_run_that_fails_the_checks_is_a_reported_bug(tmp_path, monkeypatch):
    """Not retrained forever: a trainer whose records the store rejects is an error at once."""
    monkeypatch.setattr(mnist_grid, "load_mnist", synthetic)
    real_train_run = mnist_grid.train_run

    def short_history(*args):
        result = real_train_run(*args)
        result.test_loss.pop()
        return result

    monkeypatch.setattr(mnist_grid, "train_run", short_history)
    with pytest.raises(RuntimeError, match=r"fails the store's checks: test_loss has 1 entries"):
        mnist_grid.run_grid(TINY, tmp_path, progress=False)


def test_fewer_minibatches_than_trace_points_is_a_valid_run(tmp_path, trained):
    """Two minibatches per epoch give two trace points, not trace_points_per_epoch = 5."""
    config = TINY.replace(train_size=100, trace_points_per_epoch=5)
    first = mnist_grid.run_grid(config, tmp_path, progress=False)
    assert {len(r.loss_trace) for r in first} == {2 * config.epochs}
    trained.clear()
    assert numbers(mnist_grid.run_grid(config, tmp_path, progress=False)) == numbers(first)
    assert trained == []


def test_two_close_learning_rates_get_two_files(tmp_path, trained):
    config = TINY.replace(optimizers=("SGD",), seeds=(0,), learning_rates=(0.5, 0.5000001))
    results = mnist_grid.run_grid(config, tmp_path, progress=False)
    assert [r.lr for r in results] == [0.5, 0.5000001]
    files = sorted(p.name for p in results_dir(config, tmp_path).glob("SGD_*.json"))
    assert files == ["SGD_lr0.5000001_seed0.json", "SGD_lr0.5_seed0.json"]
    assert [r.lr for r in mnist_grid.run_grid(config, tmp_path, progress=False)] == [0.5, 0.5000001]
    assert run_path(tmp_path, "SGD", 1e-5, 0).name == "SGD_lr1e-05_seed0.json"


# --------------------------------------------------------------------------------------------
# Code and settings changes


def _edited_source(monkeypatch, module_file: str, edit) -> None:
    """Make the code digest read ``module_file`` as ``edit(text)``, as if the file were edited."""
    read = store._read_source
    monkeypatch.setattr(
        store,
        "_read_source",
        lambda path: (
            edit(read(path))
            if path.name == module_file and path.parent.name == "optim"
            else read(path)
        ),
    )


def test_a_code_change_retrains_every_run_and_a_comment_change_none(tmp_path, trained, monkeypatch):
    mnist_grid.run_grid(TINY, tmp_path, progress=False)
    before = results_dir(TINY, tmp_path)
    trained.clear()
    with monkeypatch.context() as patch:  # a comment and a docstring: the same code
        _edited_source(
            patch,
            "optimizers.py",
            lambda text: text.replace('"""', '"""Edited. ', 1) + "\n# a remark\n",
        )
        assert results_dir(TINY, tmp_path) == before
        mnist_grid.run_grid(TINY, tmp_path, progress=False)
        assert trained == []
    with monkeypatch.context() as patch:  # e.g. RMSProp's default decay changed
        _edited_source(patch, "optimizers.py", lambda text: text + "\nDEFAULT_TAU = 0.95\n")
        assert results_dir(TINY, tmp_path) != before
        assert load_run(run_path(before, "SGD", 0.1, 0), TINY) is None  # the old file is stale
        mnist_grid.run_grid(TINY, tmp_path, progress=False)
        assert sorted(trained) == sorted(mnist_grid.grid_runs(TINY))


def test_the_key_covers_the_training_loop_the_data_and_what_they_import():
    from lib.mnist.store import RECORD_MODULES, RUN_MODULES

    modules = store.code_modules(*RUN_MODULES, exclude=RECORD_MODULES)
    assert {
        "lib.mnist.training",
        "lib.mnist.data",
        "lib.optim.optimizers",
        "lib.mnist.grid",
        "lib.runtime",
        "lib.config",
        "lib.validation",
    } <= set(modules)
    assert "lib.mnist.store" not in modules and "lib.store" not in modules


def test_no_code_behind_a_run_imports_lib_modules_where_the_digest_cannot_see_them():
    """The digest follows top-level imports only; an import inside a function would escape it.

    lib.config's validators are the one exception: they import the optimizer and GAN modules
    to check names, which decides nothing about a run's numbers.
    """
    import ast
    import importlib.util

    from lib.mnist.store import RECORD_MODULES, RUN_MODULES

    hidden = []
    for name in store.code_modules(*RUN_MODULES, exclude=RECORD_MODULES):
        if name == "lib.config":
            continue
        tree = ast.parse(Path(importlib.util.find_spec(name).origin).read_text())
        top = {id(node) for node in tree.body}
        hidden += [
            f"{name}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
            and id(node) not in top
            and "lib" in ast.unparse(node).split()[1].split(".")[:1]
        ]
    assert hidden == []


@pytest.mark.parametrize(
    "change",
    [
        {"epochs": 3},
        {"batch_size": 40},
        {"hidden_dim": 9},
        {"train_size": 150},
        {"test_size": 40},
        {"trace_points_per_epoch": 1},
    ],
)
def test_a_settings_change_retrains_and_rejects_the_old_files(change, tmp_path, trained, caplog):
    mnist_grid.run_grid(TINY, tmp_path, progress=False)
    changed = TINY.replace(**change)
    old = run_path(results_dir(TINY, tmp_path), "SGD", 0.1, 0)
    new = run_path(results_dir(changed, tmp_path), "SGD", 0.1, 0)
    assert new.parent != old.parent
    new.parent.mkdir(parents=True)
    new.write_bytes(old.read_bytes())  # the old run, copied where the new one belongs
    with caplog.at_level(logging.WARNING):
        assert load_run(new, changed) is None
    assert "key" in caplog.text
    trained.clear()
    mnist_grid.run_grid(changed, tmp_path, progress=False)
    assert sorted(trained) == sorted(mnist_grid.grid_runs(changed))


def test_a_device_or_torch_change_changes_the_key(monkeypatch):
    from lib.mnist import store as mnist_store

    key = mnist_store.run_key(TINY)
    monkeypatch.setattr(torch, "__version__", "0.0.1")
    assert mnist_store.run_key(TINY) != key
    monkeypatch.undo()
    monkeypatch.setattr(store, "device_name", lambda device: "cuda:Some GPU")
    assert mnist_store.run_key(TINY) != key


# --------------------------------------------------------------------------------------------
# Interrupted grids


KILLED_GRID = """
import os, signal, sys
sys.path.insert(0, {tests!r})
import test_faults
from lib import store
from lib.mnist import grid
grid.load_mnist = test_faults.synthetic
saved = []
real_save = grid.save_run

def save_then_die(result, path):
    if saved:  # the second run: killed halfway through writing it
        with store.atomic_writer(path) as file:
            file.write(b'{{"optimizer": "SGD", ')
            file.flush()
            os.kill(os.getpid(), signal.SIGKILL)
    real_save(result, path)
    saved.append(path)

grid.save_run = save_then_die
grid.run_grid(test_faults.TINY, {root!r}, progress=False)
"""


def test_a_grid_killed_mid_write_resumes_to_the_numbers_of_an_uninterrupted_one(tmp_path, trained):
    root = tmp_path / "killed"  # BOOK_DEVICE=cpu (set by ``trained``) reaches the subprocess
    process = subprocess.run(
        [sys.executable, "-c", KILLED_GRID.format(tests=str(TESTS), root=str(root))],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr
    folder = results_dir(TINY, root)
    assert len(list(folder.glob("*_seed*.json"))) == 1  # the first run only
    assert len(list(folder.glob(".*.tmp"))) == 1  # the half-written second one
    resumed = mnist_grid.run_grid(TINY, root, progress=False)
    assert len(trained) == len(mnist_grid.grid_runs(TINY)) - 1
    assert list(folder.glob(".*.tmp")) == []
    clean = mnist_grid.run_grid(TINY, tmp_path / "clean", progress=False)
    assert numbers(resumed) == numbers(clean)


def test_an_exception_mid_grid_keeps_finished_runs_and_resumes(tmp_path, trained, monkeypatch):
    real_save = mnist_grid.save_run

    def fail_on_third(result, path):
        if len(list(path.parent.glob("*_seed*.json"))) == 2:
            raise KeyboardInterrupt
        real_save(result, path)

    monkeypatch.setattr(mnist_grid, "save_run", fail_on_third)
    with pytest.raises(KeyboardInterrupt):
        mnist_grid.run_grid(TINY, tmp_path, progress=False)
    monkeypatch.setattr(mnist_grid, "save_run", real_save)
    trained.clear()
    resumed = mnist_grid.run_grid(TINY, tmp_path, progress=False)
    assert len(trained) == 2
    assert numbers(resumed) == numbers(
        mnist_grid.run_grid(TINY, tmp_path / "clean", progress=False)
    )


def test_stale_temporary_files_are_removed_by_the_grid(tmp_path, trained):
    folder = results_dir(TINY, tmp_path)
    folder.mkdir(parents=True)
    stale = folder / ".SGD_lr0.1_seed0.json.abc123.tmp"  # left by an older, killed writer
    stale.write_text("{")
    mnist_grid.run_grid(TINY, tmp_path, progress=False)
    assert not stale.exists()


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_stored_runs_follow_the_umask(tmp_path, trained, umask):
    previous = os.umask(umask)
    try:
        mnist_grid.run_grid(TINY, tmp_path, progress=False)
    finally:
        os.umask(previous)
    modes = {p.stat().st_mode & 0o777 for p in results_dir(TINY, tmp_path).iterdir()}
    assert modes == {0o666 & ~umask}


# --------------------------------------------------------------------------------------------
# Settings refused when built


BAD_SETTINGS = [
    (OptimizerGridConfig, {"epochs": 0}, r"epochs must be a positive integer, got 0"),
    (OptimizerGridConfig, {"batch_size": True}, r"batch_size must be a positive integer, got True"),
    (OptimizerGridConfig, {"hidden_dim": 2.0}, r"hidden_dim must be a positive integer"),
    (OptimizerGridConfig, {"train_size": 0}, r"train_size must be a positive integer"),
    (OptimizerGridConfig, {"learning_rates": (1e39,)}, r"learning_rates\[0\] must be <="),
    (OptimizerGridConfig, {"learning_rates": (0.1, math.nan)}, r"learning_rates\[1\]"),
    (OptimizerGridConfig, {"learning_rates": (0.1, 0.1)}, r"learning_rates must not repeat"),
    (OptimizerGridConfig, {"seeds": (2**32,)}, r"seeds\[0\] must be a non-negative integer"),
    (OptimizerGridConfig, {"seeds": ()}, r"seeds must hold at least 1"),
    (OptimizerGridConfig, {"optimizers": "SGD"}, r"optimizers must be a sequence"),
    (OptimizerGridConfig, {"workers": 0}, r"workers must be a positive integer"),
    (GANConfig, {"seed": 2**32}, r"seed must be a non-negative integer <= 4294967295"),
    (GANConfig, {"clip": math.inf}, r"clip must be a positive number, got inf"),
    (GANConfig, {"lr": 1e39}, r"lr must be <= 3.4"),
    (GANConfig, {"lr": math.nan}, r"lr must be a positive number"),
    (GANConfig, {"betas": (0.5, math.nan)}, r"betas\[1\]"),
    (GANConfig, {"gp_weight": math.inf}, r"gp_weight must be a non-negative number"),
    (GANConfig, {"lr_decay": 1}, r"lr_decay must be True or False"),
    (GANConfig, {"iterations": True}, r"iterations must be a positive integer"),
    (GANComparisonConfig, {"seeds": (1, 2**32)}, r"seeds\[1\] must be a non-negative integer"),
    (
        GANComparisonConfig,
        {"variants": (("a", (("clip", math.inf),)),)},
        r"variants\[0\]: clip must be a positive number",
    ),
    (GANComparisonConfig, {"variants": (("a", ()), ("a", ()))}, r"variants must not repeat"),
    (GANComparisonConfig, {"long_variant": (("seed", 2**32),)}, r"long_variant: seed must"),
    (
        GANComparisonConfig,
        {"ablation_variants": (("a", (("colour", 1),)),)},
        r"ablation_variants\[0\] must hold \(GANConfig field, value\) pairs",
    ),
    (GANComparisonConfig, {"targets": ("ring", "ring")}, r"targets must not repeat"),
    (BenchmarkConfig, {"epoch_lr": math.inf}, r"epoch_lr must be"),
    (BenchmarkConfig, {"repeats": 0}, r"repeats must be a positive integer"),
    (BenchmarkConfig, {"gan_iterations": (50, 20)}, r"gan_iterations must be two lengths"),
    (BenchmarkConfig, {"grid_epochs": 0}, r"grid_epochs must be a positive integer"),
]


@pytest.mark.parametrize(("config", "changes", "message"), BAD_SETTINGS)
def test_bad_settings_are_refused_naming_the_field(config, changes, message):
    with pytest.raises(ValueError, match=message):
        config(**changes)


@pytest.mark.parametrize("profile", ["quick", "full"])
@pytest.mark.parametrize(
    "config", [OptimizerGridConfig, GANConfig, GANComparisonConfig, BenchmarkConfig]
)
def test_every_profile_builds_valid_settings(config, profile):
    assert isinstance(config.for_profile(profile), config)
