"""Stored WGAN runs: saved once, loaded on rebuild, retrained when stale or corrupt."""

import logging

import numpy as np
import pytest
import torch

from lib.config import GANConfig
from lib.gan import comparison
from lib.gan.comparison import train_many
from lib.gan.store import (
    RECORD_MODULES,
    RUN_MODULES,
    load_run,
    run_key,
    run_path,
    save_run,
)
from lib.gan.training import train_wgan
from lib.store import code_modules, source_digest

CONFIG = GANConfig(target="ring", iterations=20, snapshot_every=10, eval_samples=100)


@pytest.fixture(autouse=True)
def _results_in_a_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "results"))


def _same_run(a, b):
    for x, y in zip(
        (*a.generator.state_dict().values(), *a.critic.state_dict().values()),
        (*b.generator.state_dict().values(), *b.critic.state_dict().values()),
    ):
        assert torch.equal(x, y)
    ha, hb = a.history, b.history
    assert ha.critic_objective == hb.critic_objective and ha.w1 == hb.w1
    assert ha.snapshot_iterations == hb.snapshot_iterations and ha.diverged_at == hb.diverged_at
    for x, y in zip(ha.samples + ha.critic_values, hb.samples + hb.critic_values):
        np.testing.assert_array_equal(x, y)
    assert a.final == b.final and a.box == b.box


def test_a_saved_run_loads_back_equal():
    run = train_wgan(CONFIG, progress=False)
    path = save_run(run)
    assert path == run_path(CONFIG) and path.parent.name == run_key(CONFIG)[0]
    _same_run(load_run(CONFIG), run)


def test_a_rebuild_only_loads(monkeypatch):
    configs = [CONFIG, CONFIG.replace(seed=2, lipschitz="gradient_penalty")]
    first = train_many(configs, workers=1, progress=False)

    def refuse(_):
        raise AssertionError("a stored run was trained again")

    monkeypatch.setattr(comparison, "train_stacked", refuse)
    for a, b in zip(train_many(configs, workers=1, progress=False), first):
        _same_run(a, b)


def test_corrupt_or_foreign_files_are_logged_and_retrained(caplog):
    run = train_wgan(CONFIG, progress=False)
    path = save_run(run)
    path.write_bytes(b"\xff\xfe not a torch file")
    with caplog.at_level(logging.WARNING, logger="lib.gan.store"):
        assert load_run(CONFIG) is None
    assert "unreadable" in caplog.text
    other = train_wgan(CONFIG.replace(seed=5), progress=False)
    other_path = save_run(other)
    path.write_bytes(other_path.read_bytes())  # another run's file under this run's name
    assert load_run(CONFIG) is None
    record = torch.load(other_path, weights_only=True)
    record["history"]["w1"] = record["history"]["w1"][:-1]  # a list shorter than the snapshots
    torch.save(record, other_path)
    assert load_run(CONFIG.replace(seed=5)) is None
    (again,) = train_many([CONFIG], workers=1, progress=False)  # retrained and stored again
    _same_run(load_run(CONFIG), again)


def test_the_key_covers_settings_and_the_code_that_computes_a_run():
    assert run_key(CONFIG)[0] != run_key(CONFIG.replace(lr=CONFIG.lr * (1 + 1e-12)))[0]
    assert run_key(CONFIG)[0] == run_key(CONFIG.replace(num_threads=2))[0]  # speed only
    assert run_key(CONFIG)[0] != run_key(CONFIG, dtype=torch.float64)[0]
    modules = set(code_modules(*RUN_MODULES, exclude=RECORD_MODULES))
    # An edit to any of these changes the digest, hence the key: the run is trained again.
    assert {
        "lib.gan.training",
        "lib.gan.stacked",
        "lib.gan.networks",
        "lib.gan.metrics",
        "lib.gan.sampling",
        "lib.gan.targets",
        "lib.config",
    } <= modules
    prov = run_key(CONFIG)[1]
    assert prov["code"] == source_digest(*RUN_MODULES, exclude=RECORD_MODULES)
    assert prov["torch"] == torch.__version__ and prov["dtype"] == "torch.float32"
