"""The book's build around Sphinx: pages that follow the code (``book/_ext/freshness.py``), the
author on the PDF and the pages (``book/_ext/handin.py``) and the build's terminal output
(``tools/logged.py``)."""

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import freshness  # noqa: E402  (Sphinx extensions, imported from their folder)
import handin  # noqa: E402

PAGES = {"intro", "gan", "optimizers"}


@pytest.fixture
def build(tmp_path, monkeypatch):
    """One Sphinx build of a fake book whose pages compute with ``<tmp>/repo/lib``: call it with
    the pages Sphinx found changed itself; it returns the pages freshness adds."""
    repo = tmp_path / "repo"
    (repo / "lib").mkdir(parents=True)
    (repo / "lib" / "grid.py").write_text("RATES = (0.5,)\n")
    monkeypatch.setattr(freshness, "repo_root", lambda: repo)
    monkeypatch.setenv("BOOK_PROFILE", "full")
    doctrees, out = tmp_path / ".doctrees", tmp_path / "html"
    doctrees.mkdir()
    out.mkdir()

    def run(added=(), warnings=0):
        env = SimpleNamespace(found_docs=set(PAGES))
        app = SimpleNamespace(
            doctreedir=doctrees,
            outdir=out,
            env=env,
            _warncount=warnings,
            builder=SimpleNamespace(format="latex"),
        )
        again = freshness._outdated(app, env, set(added), set(), set())
        freshness._record(app, None)
        return set(again)

    run.repo = repo
    return run


def test_pages_run_again_exactly_when_the_code_or_the_profile_changed(build, monkeypatch):
    assert build(added=PAGES) == set()  # a first build reads every page anyway
    assert build() == set()  # nothing changed: Sphinx's own rules apply
    (build.repo / "lib" / "grid.py").write_text("RATES = (0.5, 0.1)\n")
    assert build() == PAGES
    assert build() == set()
    monkeypatch.setenv("BOOK_PROFILE", "quick")
    assert build(added={"intro"}) == PAGES - {"intro"}
    assert build() == set()


def test_a_build_that_warned_leaves_every_page_to_run_again(build):
    build(added=PAGES)
    (build.repo / "lib" / "grid.py").write_text("RATES = ()\n")
    assert build(warnings=1) == PAGES  # e.g. an {eval} that no longer resolves
    assert build() == PAGES  # not recorded: the next build runs them again
    assert build() == set()


def test_the_inputs_hash_follows_file_contents_not_times(build):
    first = freshness.inputs()
    path = build.repo / "lib" / "grid.py"
    path.write_text(path.read_text())
    assert freshness.inputs() == first
    (build.repo / "lib" / "new.py").write_text("")
    assert freshness.inputs()["sources"] != first["sources"]


LOUD = """
import sys
print("[IPKernelApp] WARNING | Kernel is running over TCP without encryption.")
print("a page of LaTeX log")
print("[gan] 1/2 runs, 3 s", flush=True)
print("WARNING: something to fix", file=sys.stderr)
sys.exit({status})
"""


@pytest.mark.parametrize("status", [0, 3])
def test_the_terminal_shows_progress_and_warnings_and_the_log_keeps_everything(tmp_path, status):
    log = tmp_path / "build.log"
    command = [sys.executable, "-m", "tools.logged", str(log), "--", sys.executable, "-c"]
    shown = subprocess.run(
        [*command, LOUD.format(status=status)], capture_output=True, text=True, cwd=ROOT
    )
    assert shown.returncode == status
    assert "[gan] 1/2 runs, 3 s" in shown.stdout and "something to fix" in shown.stdout
    assert "LaTeX log" not in shown.stdout and "TCP" not in shown.stdout
    assert "a page of LaTeX log" in log.read_text() and "TCP" in log.read_text()
    assert ("a page of LaTeX log" in shown.stderr) == bool(status)  # the log's end on failure


def test_author_replaces_the_configured_one_on_the_title_page_and_in_the_pages(monkeypatch):
    documents = [("intro", "report.tex", "Title", "Ada Lovelace", "manual")]
    config = SimpleNamespace(latex_documents=list(documents), latex_engine="xelatex")
    monkeypatch.delenv("AUTHOR", raising=False)
    handin._latex_author(SimpleNamespace(config=config))
    assert config.latex_documents == documents  # no AUTHOR: _config.yml's author stays
    monkeypatch.setenv("AUTHOR", "  Søren Ørsted & Co_ ")
    handin._latex_author(SimpleNamespace(config=config))
    assert config.latex_documents == [
        ("intro", "report.tex", "Title", r"Søren Ørsted \& Co\_", "manual")  # TeX-escaped
    ]
    context = {"author": "Ada Lovelace"}
    handin._html_author(None, "intro", "page.html", context, None)
    assert context["author"] == "Søren Ørsted & Co_"


def test_the_hand_in_prints_links_into_part_two_as_text_and_names_bare_labels():
    from docutils import nodes

    env = SimpleNamespace(found_docs={"intro", "gan"})  # the hand-in: no part two
    text = nodes.inline("the runs there", "the runs there")
    explicit = {"reftarget": "gan-beyond-quality", "refexplicit": True}
    assert handin._text_for_second_part(None, env, explicit, text) is text
    bare = handin._text_for_second_part(None, env, {"reftarget": "gan-beyond-quality"}, text)
    assert bare.astext() == "the book's second part"
    appendix = handin._text_for_second_part(None, env, {"reftarget": "performance"}, text)
    assert appendix.astext() == "the book's appendix"
    assert handin._text_for_second_part(None, env, {"reftarget": "gan-nowhere"}, text) is None
    env.found_docs.add("gan_beyond")  # the full book: a missing label there fails as usual
    assert handin._text_for_second_part(None, env, {"reftarget": "gan-beyond-x"}, text) is None
