"""Fault injection: a grid killed mid-write, and settings refused where they enter.

The cache's own faults (damaged files, code and settings changes) are in ``test_cache.py``,
those of the MNIST archives in ``test_mnist.py`` and ``test_cache.py``.
"""

import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lib.config import BenchmarkConfig, OptimizerGridConfig
from lib.mnist import grid as mnist_grid

TESTS = Path(__file__).parent

KILLED_GRID = """
import os, signal, sys
sys.path.insert(0, {tests!r})
import test_cache
from lib import cache
from lib.mnist import grid
grid.load_mnist = test_cache.synthetic
saved = []
real_save = cache.torch.save

def save_then_die(record, file):
    if saved:  # the second run: killed halfway through writing it
        file.write(b"half a record")
        file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    real_save(record, file)
    saved.append(record)

cache.torch.save = save_then_die
grid.run_grid(test_cache.TINY, {root!r}, progress=False)
"""


def test_a_grid_killed_mid_write_resumes_to_the_numbers_of_an_uninterrupted_one(
    tmp_path, monkeypatch
):
    from test_cache import TINY, numbers, synthetic

    monkeypatch.setenv("BOOK_DEVICE", "cpu")  # reaches the subprocess too
    root = tmp_path / "killed"
    process = subprocess.run(
        [sys.executable, "-c", KILLED_GRID.format(tests=str(TESTS), root=str(root))],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr
    assert len(list((root / "mnist").glob("*.pt"))) == 1  # the first run only
    trained = []
    real_train_run = mnist_grid.train_run
    monkeypatch.setattr(mnist_grid, "load_mnist", synthetic)
    monkeypatch.setattr(
        mnist_grid, "train_run", lambda *args: trained.append(args[:3]) or real_train_run(*args)
    )
    resumed = mnist_grid.run_grid(TINY, root, progress=False)
    assert len(trained) == len(mnist_grid.grid_runs(TINY)) - 1
    clean = mnist_grid.run_grid(TINY, tmp_path / "clean", progress=False)
    assert numbers(resumed) == numbers(clean)


# (config, a bad field): the ValueError names the field.
BAD_SETTINGS = [
    (OptimizerGridConfig, {"epochs": 0}),
    (OptimizerGridConfig, {"batch_size": True}),
    (OptimizerGridConfig, {"hidden_dim": 2.0}),
    (OptimizerGridConfig, {"train_size": 0}),
    (OptimizerGridConfig, {"learning_rates": (0.1, math.nan)}),
    (OptimizerGridConfig, {"learning_rates": (0.1, 0.1)}),
    (OptimizerGridConfig, {"seeds": (2**32,)}),
    (OptimizerGridConfig, {"optimizers": ("SGD", "Nesterov")}),
    (OptimizerGridConfig, {"workers": 0}),
    (BenchmarkConfig, {"epoch_lr": math.inf}),
    (BenchmarkConfig, {"repeats": 0}),
    (BenchmarkConfig, {"gan_iterations": (50, 20)}),
    (BenchmarkConfig, {"grid_epochs": 0}),
]


@pytest.mark.parametrize(("config", "changes"), BAD_SETTINGS)
def test_a_bad_field_is_refused_naming_the_field(config, changes):
    (field,) = changes
    with pytest.raises(ValueError, match=rf"^{field}\b"):
        config(**changes)


@pytest.mark.parametrize("profile", ["quick", "full"])
@pytest.mark.parametrize("config", [OptimizerGridConfig, BenchmarkConfig])
def test_every_profile_builds_valid_settings(config, profile):
    assert isinstance(config.for_profile(profile), config)
