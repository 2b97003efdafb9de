"""The project's own rules: profiles, paths, packaging and how notebooks are stored."""

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from lib import config
from tools import buildcheck

ROOT = Path(__file__).resolve().parents[1]


def _names(requirements):
    """Distribution names of a list of requirement strings, normalised."""
    return {re.split(r"[<>=!~ \[;]", r.strip(), maxsplit=1)[0].lower().replace("_", "-")
            for r in requirements}


def test_environment_yml_names_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_side = _names(project["dependencies"])
    for extra in ("book", "test"):
        pip_side |= _names(project["optional-dependencies"][extra])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_side = _names(conda) | _names(r for r in pip if not r.startswith("-e"))
    conda_side -= {"python", "pip"}
    assert conda_side == pip_side, (
        f"only in environment.yml: {sorted(conda_side - pip_side)}; "
        f"only in pyproject.toml: {sorted(pip_side - conda_side)}")


def test_notebooks_are_stored_without_outputs():
    notebooks = sorted((ROOT / "book").glob("*.ipynb"))
    assert notebooks, "the book has no notebooks"
    for path in notebooks:
        cells = json.loads(path.read_text())["cells"]
        dirty = [i for i, c in enumerate(cells)
                 if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
        assert not dirty, f"{path.name}: cells {dirty} are stored with outputs"


def test_every_notebook_is_in_the_table_of_contents():
    toc = (ROOT / "book" / "_toc.yml").read_text()
    for path in (ROOT / "book").glob("*.ipynb"):
        assert f"file: {path.stem}" in toc, f"{path.name} is missing from _toc.yml"


def test_pytest_runs_in_the_quick_profile():
    assert config.active_profile() == "quick"


@pytest.mark.parametrize("value, expected", [("quick", "quick"), ("FULL", "full"), ("", "full")])
def test_profile_names(monkeypatch, value, expected):
    monkeypatch.setenv("BOOK_PROFILE", value)
    assert config.active_profile() == expected


def test_unknown_profile_is_refused(monkeypatch):
    monkeypatch.setenv("BOOK_PROFILE", "medium")
    with pytest.raises(ValueError, match="BOOK_PROFILE"):
        config.active_profile()


def test_default_profile_is_full(monkeypatch):
    monkeypatch.delenv("BOOK_PROFILE")
    assert config.active_profile() == "full"


def test_quick_profile_shrinks_every_experiment():
    for cls in (config.GANConfig, config.GANComparisonConfig, config.OptimizerGridConfig,
                config.BenchmarkConfig):
        quick, full = cls.for_profile("quick"), cls.for_profile("full")
        assert quick != full and full == cls()


def test_data_and_results_roots_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "r"))
    assert config.data_root() == tmp_path / "d"
    assert config.results_root() == tmp_path / "r"
    monkeypatch.delenv("DATA_DIR")
    assert config.data_root() == ROOT / "data"


def test_buildcheck_finds_missing_outputs_and_failed_notebooks(tmp_path):
    assert buildcheck.check("html", tmp_path) == [f"missing {tmp_path / 'html' / 'index.html'}"]
    (tmp_path / "html" / "reports").mkdir(parents=True)
    (tmp_path / "html" / "index.html").write_text("<html></html>")
    assert buildcheck.check("html", tmp_path) == []
    (tmp_path / "html" / "reports" / "gan.err.log").write_text("Traceback")
    assert len(buildcheck.check("html", tmp_path)) == 1
    assert buildcheck.check("pdf", tmp_path) == [f"no PDF in {tmp_path / 'latex'}"]
    with pytest.raises(ValueError, match="kind"):
        buildcheck.check("epub", tmp_path)
