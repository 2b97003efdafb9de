"""The result cache as the MNIST grid uses it: what retrains, what reloads, what is recomputed.

The grid runs on a tiny synthetic problem with MNIST's shapes (no real training); the last test
damages a real MNIST archive (skipped where the archives are absent).
"""

import dataclasses
import logging
import math
import shutil
import sys

import pytest
import torch

from lib.cache import Entry
from lib.config import OptimizerGridConfig, data_root
from lib.mnist import grid as mnist_grid
from lib.mnist.data import IMAGE_PIXELS, MNIST_FILES, MNISTTensors, load_mnist

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
    """run_grid on the synthetic problem, on the CPU; records every run it trains."""
    monkeypatch.setenv("BOOK_DEVICE", "cpu")
    calls = []
    real_train_run = mnist_grid.train_run
    monkeypatch.setattr(mnist_grid, "load_mnist", synthetic)
    monkeypatch.setattr(
        mnist_grid, "train_run", lambda *args: calls.append(args[:3]) or real_train_run(*args)
    )
    return calls


def numbers(results):
    """What the runs computed (their wall-clock epoch times aside)."""
    return [{k: v for k, v in dataclasses.asdict(r).items() if k != "epoch_time"} for r in results]


@pytest.fixture
def code_module(tmp_path, monkeypatch):
    """A module ``grid_code`` on the import path, with a notebook beside it, added to the code
    behind every run of the grid."""
    (tmp_path / "grid_code.py").write_text("SCALE = 1.0\n")
    (tmp_path / "chapter.ipynb").write_text('{"cells": [{"source": "Prose."}]}')
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(mnist_grid, "RUN_CODE", (*mnist_grid.RUN_CODE, "grid_code"))
    yield tmp_path
    sys.modules.pop("grid_code", None)


def test_a_code_change_retrains_and_a_prose_change_does_not(tmp_path, trained, code_module):
    root = tmp_path / "results"
    first = mnist_grid.run_grid(TINY, root, progress=False)
    runs = len(mnist_grid.grid_runs(TINY))
    assert len(trained) == runs
    (code_module / "chapter.ipynb").write_text('{"cells": [{"source": "Other prose."}]}')
    assert numbers(mnist_grid.run_grid(TINY, root, progress=False)) == numbers(first)
    assert len(trained) == runs  # the notebook is not code behind a run: nothing retrained
    old_key = mnist_grid.run_entry(("SGD", 0.1, 0), TINY, root).key
    (code_module / "grid_code.py").write_text("SCALE = 1.0  # a comment counts as a change\n")
    assert mnist_grid.run_entry(("SGD", 0.1, 0), TINY, root).key != old_key
    assert numbers(mnist_grid.run_grid(TINY, root, progress=False)) == numbers(first)
    assert len(trained) == 2 * runs  # every run trained again, to the same numbers


def test_a_settings_change_gets_its_own_key_but_the_grid_lists_do_not(tmp_path):
    key = mnist_grid.run_entry(("SGD", 0.1, 0), TINY, tmp_path).key
    assert mnist_grid.run_entry(("SGD", 0.1, 0), TINY.replace(epochs=3), tmp_path).key != key
    assert mnist_grid.run_entry(("SGD", 0.1000001, 0), TINY, tmp_path).key != key
    assert mnist_grid.run_entry(("SGD", 0.1, 0), TINY.replace(seeds=(0, 5)), tmp_path).key == key


DAMAGE = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "garbage": lambda p: p.write_bytes(b"\x80\x02garbage" * 20),
    "empty": lambda p: p.write_bytes(b""),
    "another run's file": lambda p: shutil.copyfile(p.with_name("other.pt"), p),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_cache_file_is_logged_and_recomputed(damage, tmp_path, trained, caplog):
    first = mnist_grid.run_grid(TINY, tmp_path, progress=False)
    path = mnist_grid.run_entry(("SGD", 0.1, 0), TINY, tmp_path).path
    shutil.copyfile(
        mnist_grid.run_entry(("Adam", 0.1, 1), TINY, tmp_path).path, path.parent / "other.pt"
    )
    DAMAGE[damage](path)
    trained.clear()
    with caplog.at_level(logging.WARNING, logger="lib.cache"):
        assert mnist_grid.run_entry(("SGD", 0.1, 0), TINY, tmp_path).load() is None
        again = mnist_grid.run_grid(TINY, tmp_path, progress=False)
    assert trained == [("SGD", 0.1, 0)] and numbers(again) == numbers(first)
    assert str(path) in caplog.text and "computing it again" in caplog.text


def test_a_diverged_run_is_stored_with_its_non_finite_values(tmp_path, trained, monkeypatch):
    real_train_run = mnist_grid.train_run

    def diverging(optimizer, lr, seed, train, test, config):
        poisoned = MNISTTensors(torch.full_like(train.images, math.nan), train.labels)
        return real_train_run(optimizer, lr, seed, poisoned, test, config)

    monkeypatch.setattr(mnist_grid, "train_run", diverging)
    first = mnist_grid.run_grid(TINY, tmp_path, progress=False)
    assert all(r.diverged_epoch == 1 and math.isnan(r.final_test_accuracy) for r in first)
    monkeypatch.setattr(mnist_grid, "train_run", lambda *args: pytest.fail("retrained"))
    assert numbers(mnist_grid.run_grid(TINY, tmp_path, progress=False)) == numbers(first)


def test_an_interrupted_grid_keeps_finished_runs_and_resumes(tmp_path, trained, monkeypatch):
    real_save = Entry.save

    def interrupt_third(entry, value):
        if len(list(entry.path.parent.glob("*.pt"))) == 2:
            raise KeyboardInterrupt
        return real_save(entry, value)

    monkeypatch.setattr(Entry, "save", interrupt_third)
    with pytest.raises(KeyboardInterrupt):
        mnist_grid.run_grid(TINY, tmp_path, progress=False)
    monkeypatch.setattr(Entry, "save", real_save)
    trained.clear()
    resumed = mnist_grid.run_grid(TINY, tmp_path, progress=False)
    assert len(trained) == len(mnist_grid.grid_runs(TINY)) - 2
    assert numbers(resumed) == numbers(mnist_grid.run_grid(TINY, tmp_path / "clean", False))


def test_a_write_that_fails_midway_leaves_no_file(tmp_path, monkeypatch):
    entry = Entry("mnist", {"a": 1}, ("lib.mnist.data",), root=tmp_path)
    entry.save([1.0])

    def broken_save(obj, file):
        file.write(b"half a record")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        Entry("mnist", {"a": 2}, ("lib.mnist.data",), root=tmp_path).save([2.0])
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == [entry.path.name]
    assert entry.load() == [1.0]


@pytest.mark.skipif(
    not (data_root() / "MNIST" / "raw" / MNIST_FILES[3]).is_file(),
    reason="the MNIST archives are not in the data folder",
)
def test_a_damaged_mnist_archive_is_named_and_nothing_is_read_from_it(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_FILES[2:]:  # the test split
        shutil.copyfile(data_root() / "MNIST" / "raw" / name, raw / name)
    damaged = raw / MNIST_FILES[3]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte: the archive still decompresses, wrongly
    damaged.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"{damaged}.*damaged.*Delete it"):
        load_mnist(train=False, root=tmp_path, download=False)
