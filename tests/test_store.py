"""The shared result store: code digests, provenance keys, atomic writes, tolerant reads."""

import json
import logging
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from lib import store


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A throwaway package ``lib.fakepkg`` on disk, whose modules the tests edit."""
    import lib

    folder = tmp_path / "fakepkg"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "model.py").write_text(
        textwrap.dedent('''\
        """A model."""
        from lib.fakepkg import helper
        from lib.fakepkg.helper import scale

        def f(x):
            """Twice x."""
            return scale * x  # a comment
        ''')
    )
    (folder / "helper.py").write_text("scale = 2\n")
    (folder / "lazy.py").write_text("x = 1\n")
    monkeypatch.setattr(lib, "__path__", [*lib.__path__, str(tmp_path)])
    yield folder
    for name in [m for m in sys.modules if m.startswith("lib.fakepkg")]:
        del sys.modules[name]


def test_digest_follows_imports_and_ignores_comments_docstrings_and_layout(fake_package):
    assert store.code_modules("lib.fakepkg.model") == [
        "lib.fakepkg",
        "lib.fakepkg.helper",
        "lib.fakepkg.model",
    ]
    before = store.source_digest("lib.fakepkg.model")
    model = fake_package / "model.py"
    model.write_text(
        model.read_text()
        .replace("# a comment", "# another comment")
        .replace("Twice x.", "Two times x.")
        .replace("scale * x", "scale*x")
    )
    assert store.source_digest("lib.fakepkg.model") == before
    model.write_text(model.read_text().replace("scale*x", "scale * x + 0"))
    changed = store.source_digest("lib.fakepkg.model")
    assert changed != before
    (fake_package / "helper.py").write_text("scale = 3\n")  # an imported module changes
    assert store.source_digest("lib.fakepkg.model") != changed
    assert store.source_digest("lib.fakepkg.model", exclude=["lib.fakepkg.helper"]) != changed


def test_digest_refuses_what_is_not_a_source_module():
    with pytest.raises(ValueError, match="modules must name at least one module"):
        store.source_digest()
    with pytest.raises(ValueError, match="Python source modules, got 'lib.no_such_module'"):
        store.source_digest("lib.no_such_module")


def test_provenance_covers_settings_code_torch_device_and_dtype():
    prov = store.provenance({"epochs": 2, "sizes": (1, 2)}, ["lib.validation"], device="cpu")
    assert prov == {
        "settings": {"epochs": 2, "sizes": [1, 2]},
        "code": store.source_digest("lib.validation"),
        "torch": torch.__version__,
        "device": "cpu",
        "dtype": "torch.float32",
    }
    key = store.provenance_key(prov)
    assert len(key) == 16 and key == store.provenance_key(json.loads(json.dumps(prov)))
    for change in (
        {"settings": {"epochs": 3, "sizes": [1, 2]}},
        {"torch": "0.0"},
        {"device": "cuda:H200"},
        {"dtype": "torch.float64"},
        {"code": "0" * 64},
    ):
        assert store.provenance_key({**prov, **change}) != key
    assert (
        store.provenance({}, ["lib.validation"], device="cpu", dtype=torch.float64)["dtype"]
        == "torch.float64"
    )
    with pytest.raises(ValueError, match="settings must be JSON-serialisable"):
        store.provenance({"lr": float("nan")}, ["lib.validation"])
    with pytest.raises(ValueError, match="settings must be a dict"):
        store.provenance([1], ["lib.validation"])


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_written_files_follow_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        store.write_json(tmp_path / "a.json", {"x": 1})
    finally:
        os.umask(previous)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_write_json_round_trip_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "sub" / "a.json"
    store.write_json(path, {"x": [1.5, 0.1 + 0.2]})
    assert store.read_json(path) == {"x": [1.5, 0.1 + 0.2]}
    assert os.listdir(path.parent) == ["a.json"]
    with pytest.raises(ValueError, match="cannot store"):
        store.write_json(path, {"x": float("nan")})
    assert store.read_json(path) == {"x": [1.5, 0.1 + 0.2]}  # the old file is untouched
    assert os.listdir(path.parent) == ["a.json"]


def test_atomic_writer_takes_torch_and_numpy_and_cleans_up_on_error(tmp_path):
    with store.atomic_writer(tmp_path / "t.pt") as file:
        torch.save({"w": torch.arange(3)}, file)
    assert torch.equal(torch.load(tmp_path / "t.pt")["w"], torch.arange(3))
    with store.atomic_writer(tmp_path / "a.npz") as file:
        np.savez(file, a=np.ones(2))
    assert np.load(tmp_path / "a.npz")["a"].tolist() == [1.0, 1.0]
    store.write_bytes(tmp_path / "b.bin", b"old")
    with (
        pytest.raises(RuntimeError, match="mid-write"),
        store.atomic_writer(tmp_path / "b.bin") as file,
    ):
        file.write(b"half of the new")
        raise RuntimeError("mid-write")
    assert (tmp_path / "b.bin").read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["a.npz", "b.bin", "t.pt"]


def test_stale_temporary_files_of_dead_writers_are_removed(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".run.json.{dead_pid}.ab12cd34.tmp"
    legacy = tmp_path / ".run.json.k3j4l5.tmp"  # mkstemp's naming, without a pid
    live = tmp_path / f".run.json.{os.getpid()}.ab12cd34.tmp"
    for path in (stale, legacy, live, tmp_path / "run.json"):
        path.write_text("x")
    assert sorted(store.clean_stale_temps(tmp_path)) == sorted([stale, legacy])
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, "run.json"])
    assert store.clean_stale_temps(tmp_path / "missing") == []


@pytest.mark.parametrize(
    "content, reason",
    [
        (None, "not stored yet"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"x": 1', "not valid JSON"),
        (b"", "not valid JSON"),
        (b'{"x": NaN}', "not valid JSON"),
    ],
)
def test_unreadable_files_read_as_none_with_the_reason_logged(tmp_path, caplog, content, reason):
    path = tmp_path / "r.json"
    if content is not None:
        path.write_bytes(content)
    with caplog.at_level(logging.INFO, logger="lib.store"):
        assert store.read_json(path) is None
    assert str(path) in caplog.text and reason in caplog.text


def test_a_folder_in_place_of_a_file_reads_as_none(tmp_path, caplog):
    (tmp_path / "r.json").mkdir()
    assert store.read_json(tmp_path / "r.json") is None
    assert "cannot be read" in caplog.text
