"""Fault injection: a grid killed mid-write, and settings refused where they enter.

The cache's own faults (damaged files, code and settings changes) are in ``test_cache.py``,
those of the MNIST archives in ``test_mnist.py`` and ``test_cache.py``.
"""

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

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


def test_a_stored_run_with_a_malformed_value_is_logged_and_trained_again(tmp_path, caplog):
    from test_cache import TINY, numbers, synthetic

    first = _run_grid_on(synthetic, TINY, tmp_path)
    entry = mnist_grid.run_entry(("SGD", 0.1, 0), TINY, tmp_path)
    stored = torch.load(entry.path, weights_only=True)
    stored["value"]["learning_rate"] = stored["value"].pop("lr")  # right key, wrong value
    torch.save(stored, entry.path)
    with caplog.at_level("WARNING", logger="lib.cache"):
        again = _run_grid_on(synthetic, TINY, tmp_path)
    assert "unusable (TypeError" in caplog.text and str(entry.path) in caplog.text
    assert numbers(again) == numbers(first)


def _run_grid_on(data, config, root):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BOOK_DEVICE", "cpu")
        patch.setattr(mnist_grid, "load_mnist", data)
        return mnist_grid.run_grid(config, root, progress=False)


@pytest.mark.parametrize("blocker", ["read-only folder", "a file in its place"])
def test_an_unwritable_results_folder_is_reported_before_anything_trains(
    tmp_path, monkeypatch, blocker
):
    from test_cache import TINY

    if blocker == "read-only folder":
        if os.geteuid() == 0:
            pytest.skip("root writes into read-only folders")
        root = tmp_path / "results"
        (root / "mnist").mkdir(parents=True)
        (root / "mnist").chmod(0o500)
    else:
        root = tmp_path / "results"
        root.mkdir()
        (root / "mnist").write_text("not a folder")
    monkeypatch.setattr(mnist_grid, "train_run", lambda *args: pytest.fail("trained"))
    monkeypatch.setattr(mnist_grid, "load_mnist", lambda *args, **kwargs: pytest.fail("loaded"))
    with pytest.raises(OSError, match="cannot be written.*RESULTS_DIR"):
        mnist_grid.run_grid(TINY, root, progress=False)


def test_the_grid_command_line_has_help_and_trains_nothing_for_it(monkeypatch, capsys):
    monkeypatch.setattr(mnist_grid, "run_grid", lambda *args: pytest.fail("trained"))
    with pytest.raises(SystemExit) as exit_:
        mnist_grid.main(["--help"])
    assert exit_.value.code == 0 and "--profile" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        mnist_grid.main(["--profile", "huge"])
    assert "invalid choice" in capsys.readouterr().err


ORPHANED_WORKERS = """
import time
from lib.runtime import parallel_map
for _ in parallel_map(time.sleep, [120.0, 120.0], workers=2):
    pass
"""


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_workers_exit_when_the_process_that_started_them_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", ORPHANED_WORKERS])
    try:
        deadline = time.monotonic() + 60
        while len(_children(parent.pid)) < 3 and time.monotonic() < deadline:  # 2 + tracker
            time.sleep(0.2)
        children = _children(parent.pid)
        assert len(children) >= 3, "the workers did not start"
        time.sleep(1.0)  # past the workers' start-up
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    alive = [pid for pid in children if Path(f"/proc/{pid}/stat").exists()]
    zombies = [p for p in alive if Path(f"/proc/{p}/stat").read_text().split(") ")[1][0] == "Z"]
    assert alive == zombies, f"still running: {sorted(set(alive) - set(zombies))}"
