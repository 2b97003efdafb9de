"""The submission archive, built from a small fixture repository."""

import zipfile

import pytest

from tools import submission


@pytest.fixture
def fixture_repo(tmp_path):
    root = tmp_path / "repo"
    files = {
        "README.md": "readme", "pyproject.toml": "[project]", "environment.yml": "name: x",
        "Makefile": "all:", "lib/__init__.py": "", "lib/gan_networks.py": "x = 1",
        "tests/test_x.py": "def test(): pass",
        "benchmarks/__main__.py": "", "benchmarks/results.json": "{}", "book/_config.yml": "author: Ada B. Lovelace-King\n",
        "book/_toc.yml": "root: intro", "book/intro.md": "# Intro", "book/gan.ipynb": "{}",
        "book/references.bib": "", "book/_build/html/index.html": "built",
        "book/_build/latex/report.pdf": "%PDF-1.5", "data/MNIST/raw/t.gz": "data",
        ".venv/bin/python": "", "lib/__pycache__/x.cpython-311.pyc": "", "results/run.json": "{}",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_archive_is_named_after_the_author_and_holds_code_and_report(fixture_repo, tmp_path):
    target = submission.build(fixture_repo, tmp_path / "dist")
    assert target.name == "ee556_2021_hw2_AdaBLovelaceKing.zip"
    names = set(zipfile.ZipFile(target).namelist())
    assert names == {
        "ee556_2021_hw2_AdaBLovelaceKing.pdf", "README.md", "pyproject.toml", "environment.yml",
        "Makefile", "lib/__init__.py", "lib/gan_networks.py", "tests/test_x.py",
        "benchmarks/__main__.py", "benchmarks/results.json",
        "book/_config.yml", "book/_toc.yml", "book/intro.md", "book/gan.ipynb",
        "book/references.bib"}


def test_missing_pdf_is_reported(fixture_repo, tmp_path):
    (fixture_repo / "book/_build/latex/report.pdf").unlink()
    with pytest.raises(FileNotFoundError, match="make pdf"):
        submission.build(fixture_repo, tmp_path / "dist")


@pytest.mark.parametrize("author, expected", [
    ("Ada Lovelace", "ee556_2021_hw2_AdaLovelace.zip"),
    ("  Émile   Zola ", "ee556_2021_hw2_EmileZola.zip"),
])
def test_archive_name(author, expected):
    assert submission.archive_name(author) == expected


def test_author_without_letters_is_refused():
    with pytest.raises(ValueError, match="author"):
        submission.archive_name("  1234 ")
