"""The project's own rules: profiles, paths, packaging and how notebooks are stored."""

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, as a package
    import tomli as tomllib

from lib import config
from lib.gan.config import GANComparisonConfig, GANConfig, GANQualityConfig
from tools import buildcheck

ROOT = Path(__file__).resolve().parents[1]


def _names(requirements):
    """Distribution names of a list of requirement strings, normalised."""
    return {
        re.split(r"[<>=!~ \[;]", r.strip(), maxsplit=1)[0].lower().replace("_", "-")
        for r in requirements
    }


def test_environment_yml_names_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_side = _names(project["dependencies"])
    for extra in ("book", "test", "dev"):
        pip_side |= _names(project["optional-dependencies"][extra])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_side = _names(conda) | _names(r for r in pip if not r.startswith("-e"))
    conda_side -= {"python", "pip"}
    assert conda_side == pip_side, (
        f"only in environment.yml: {sorted(conda_side - pip_side)}; "
        f"only in pyproject.toml: {sorted(pip_side - conda_side)}"
    )


def _tool(name: str) -> str:
    """A command-line tool of this environment (the project's test extra installs them)."""
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert path, f'{name} is not installed: pip install -e ".[book,test]"'
    return path


def test_notebooks_are_stored_without_outputs(tmp_path):
    """nbstripout's own check (as in pre-commit and CI), shown to fail on a notebook with output."""
    notebooks = sorted((ROOT / "book").glob("*.ipynb"))
    assert notebooks, "the book has no notebooks"
    check = [
        _tool("nbstripout"),
        "--keep-id",
        "--extra-keys",
        "cell.metadata.user_expressions",
        "--verify",
    ]
    result = subprocess.run(check + [str(p) for p in notebooks], capture_output=True, text=True)
    assert result.returncode == 0, f"notebooks stored with outputs: {result.stdout}"

    dirty = tmp_path / "dirty.ipynb"
    nb = json.loads(notebooks[0].read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["execution_count"] = 1
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["1\n"]}]
    dirty.write_text(json.dumps(nb))
    assert subprocess.run(check + [str(dirty)], capture_output=True).returncode != 0
    # Values jupyterlab-myst keeps for {eval} roles when Lab saves a notebook are outputs too.
    nb = json.loads(notebooks[0].read_text())
    markdown = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
    markdown["metadata"]["user_expressions"] = [
        {"expression": "1 + 1", "result": {"status": "ok", "data": {"text/plain": "2"}}}
    ]
    dirty.write_text(json.dumps(nb))
    assert subprocess.run(check + [str(dirty)], capture_output=True).returncode != 0


def test_lint_runs_the_pre_commit_hooks_in_check_mode():
    """`make lint` (run by CI) and the pre-commit hooks use the same tools."""
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"]
    entries = {h["id"]: h["entry"] for repo in hooks for h in repo["hooks"]}
    assert all(repo["repo"] == "local" for repo in hooks), "hooks must use the project's tools"
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile[makefile.index("\nlint:") :].split("\n\n")[0]
    assert "ruff check ." in lint and entries["ruff-check"].startswith("ruff check")
    assert "ruff format --check ." in lint and entries["ruff-format"].startswith("ruff format")
    keys = "--extra-keys cell.metadata.user_expressions"
    assert f"nbstripout --keep-id {keys} --verify" in lint
    assert entries["nbstripout"] == f"nbstripout --keep-id {keys}"
    assert re.search(r"^make lint$", (ROOT / ".ci" / "run").read_text(), re.M)
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]
    assert ruff["line-length"] == 100 and "*.ipynb" in ruff["extend-include"]


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
    for cls in (
        GANConfig,
        GANComparisonConfig,
        GANQualityConfig,
        config.OptimizerGridConfig,
        config.BenchmarkConfig,
    ):
        quick, full = cls.for_profile("quick"), cls.for_profile("full")
        assert quick != full and full == cls()


def test_data_and_results_roots_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("RESULTS_DIR", str(tmp_path / "r"))
    assert config.data_root() == tmp_path / "d"
    assert config.results_root() == tmp_path / "r"
    monkeypatch.delenv("DATA_DIR")
    assert config.data_root() == ROOT / "data"


def test_buildcheck_requires_the_pdf_and_places_it_beside_the_pages(tmp_path, capsys):
    assert buildcheck.main(["pdf"], tmp_path) == 1
    assert "expected one PDF" in capsys.readouterr().err
    (tmp_path / "latex").mkdir()
    (tmp_path / "latex" / "report.pdf").write_bytes(b"")  # an empty file is no PDF
    assert buildcheck.main(["pdf"], tmp_path) == 1
    (tmp_path / "latex" / "report.pdf").write_bytes(b"%PDF-1.5 report")
    assert buildcheck.main(["html"], tmp_path) == 0  # no HTML build: nothing to link
    assert not (tmp_path / "html").exists()
    (tmp_path / "html").mkdir()
    (tmp_path / "html" / "index.html").write_text("<html></html>")
    assert buildcheck.main(["pdf"], tmp_path) == 0
    assert (tmp_path / "html" / "report.pdf").read_bytes() == b"%PDF-1.5 report"
    assert buildcheck.main(["epub"], tmp_path) == 2
    assert buildcheck.main(["handin"], tmp_path) == 1  # no hand-in built
    assert "expected one PDF" in capsys.readouterr().err


def test_buildcheck_finds_numbers_of_the_hand_in_that_the_book_lacks():
    book = "momentum reaches 97.97 ± 0.08 % at 0.01; page 12"
    assert buildcheck.numbers_missing_from("97.97 ± 0.08 on page 3", book) == []
    assert buildcheck.numbers_missing_from("97.96 ± 0.08, 1.2.3", book) == ["97.96"]


def test_buildcheck_finds_blank_pages_and_wrapped_code_lines():
    pages = ["Title\n", "   \n", "    x = long_call(a,\n    ↪ b)\n", "end"]
    assert buildcheck.layout_faults("\f".join(pages) + "\f") == [
        "page 2 is blank",
        "1 code lines wrap, e.g. '↪ b)'",
    ]
    assert buildcheck.layout_faults("\f".join([pages[0], pages[3]]) + "\f") == []


def test_every_notebook_of_the_hand_in_is_in_the_full_book_and_no_beyond_page_is_graded():
    def files(toc):
        data = yaml.safe_load((ROOT / "book" / toc).read_text())
        parts = data.get("parts", [data])  # the hand-in lists its chapters without parts
        return [c["file"] for part in parts for c in part["chapters"]]

    handin, full = files("_toc_handin.yml"), files("_toc.yml")
    assert set(handin) <= set(full)
    assert {"minimax", "gan", "optimizers"} <= set(handin)
    assert not [f for f in handin if f.endswith("_beyond")]


def test_the_pages_link_the_pdf_that_the_build_check_places():
    footer = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())["html"]["extra_footer"]
    assert f'href="{buildcheck.PDF_IN_HTML}"' in footer


WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"


def _schema_check(path: Path) -> subprocess.CompletedProcess:
    """check-jsonschema against the GitHub workflow schema it ships (no network needed)."""
    return subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
    )


def test_workflow_is_valid_and_publishes_the_book(tmp_path):
    result = _schema_check(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    workflow = yaml.safe_load(WORKFLOW.read_text())
    broken = copy.deepcopy(workflow)
    del broken["jobs"]["check"]["runs-on"]
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken))
    assert _schema_check(tmp_path / "broken.yml").returncode != 0, "the schema check cannot fail"

    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert "push" in triggers and "pull_request" in triggers
    jobs = workflow["jobs"]

    def steps(job):
        return jobs[job]["steps"]

    def uses(job):
        return [s.get("uses", "").split("@")[0] for s in steps(job)]

    assert any(s.get("run") == "bash .ci/run" for s in steps("check"))
    assert jobs["build"]["needs"] == "check" and jobs["deploy"]["needs"] == "build"
    assert "refs/heads/main" in jobs["build"]["if"]
    assert any(s.get("run") == "make book" for s in steps("build"))
    upload = next(
        s for s in steps("build") if s.get("uses", "").startswith("actions/upload-pages-artifact@")
    )
    assert upload["with"]["path"] == "book/_build/html"
    assert uses("deploy") == ["actions/deploy-pages"]
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert jobs["deploy"]["environment"]["name"] == "github-pages"
    assert workflow["permissions"] == {"contents": "read"}
    assert workflow["concurrency"]["cancel-in-progress"] is False


def _offline_mathjax():
    """book/_ext/offline_mathjax.py, loaded as Sphinx loads it (the folder is no package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "offline_mathjax", ROOT / "book" / "_ext" / "offline_mathjax.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_html_build_refuses_to_run_without_the_offline_mathjax(monkeypatch):
    from sphinx.errors import ExtensionError

    extension = _offline_mathjax()
    static = extension.mathjax_static_dir()
    script = (static / extension.SCRIPT).read_text()
    assert len(script) > 100_000 and "MathJax" in script, "the package's MathJax is incomplete"
    monkeypatch.setattr(extension.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ExtensionError, match="offline MathJax not found"):
        extension.mathjax_static_dir()
    config = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    assert config["sphinx"]["local_extensions"]["offline_mathjax"] == "_ext"
    assert "mathjax_path" not in config["sphinx"]["config"], "would bypass the offline copy"
