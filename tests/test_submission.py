"""The submission archive, built from a small fixture repository, and its faults."""

import os
import zipfile

import pytest

from tools import submission

CONFIG = "author: Ada B. Lovelace-King\nlatex:\n  latex_documents:\n    targetname: report.tex\n"


@pytest.fixture
def fixture_repo(tmp_path):
    root = tmp_path / "repo"
    files = {
        "README.md": "readme",
        "pyproject.toml": "[project]",
        "environment.yml": "name: x",
        "Makefile": "all:",
        "lib/__init__.py": "",
        "lib/gan_networks.py": "x = 1",
        "tests/test_x.py": "def test(): pass",
        "benchmarks/__main__.py": "",
        "benchmarks/results.json": "{}",
        "book/_config.yml": CONFIG,
        "book/_toc.yml": "root: intro",
        "book/intro.md": "# Intro",
        "book/gan.ipynb": "{}",
        "book/references.bib": "",
        "book/_build/html/index.html": "built",
        "book/_build/latex/report.pdf": "%PDF-1.4 the full book",
        "book/_build/handin/_build/latex/report.pdf": "%PDF-1.5",
        "data/MNIST/raw/t.gz": "data",
        ".venv/bin/python": "",
        "lib/__pycache__/x.cpython-311.pyc": "",
        "results/run.json": "{}",
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
        "ee556_2021_hw2_AdaBLovelaceKing.pdf",
        "README.md",
        "pyproject.toml",
        "environment.yml",
        "Makefile",
        "lib/__init__.py",
        "lib/gan_networks.py",
        "tests/test_x.py",
        "benchmarks/__main__.py",
        "benchmarks/results.json",
        "book/_config.yml",
        "book/_toc.yml",
        "book/intro.md",
        "book/gan.ipynb",
        "book/references.bib",
    }


def test_missing_pdf_is_reported(fixture_repo, tmp_path):
    (fixture_repo / "book/_build/handin/_build/latex/report.pdf").unlink()
    with pytest.raises(FileNotFoundError, match="make handin"):
        submission.build(fixture_repo, tmp_path / "dist")


@pytest.mark.parametrize(
    "author, expected",
    [
        ("Ada Lovelace", "ee556_2021_hw2_AdaLovelace.zip"),
        ("  Émile   Zola ", "ee556_2021_hw2_EmileZola.zip"),
    ],
)
def test_archive_name(author, expected):
    assert submission.archive_name(author) == expected


def test_author_without_letters_is_refused():
    with pytest.raises(ValueError, match="author must contain letters"):
        submission.archive_name("  1234 ")


@pytest.mark.parametrize(
    "author, expected",
    [
        ("Søren Ørsted", "SorenOrsted"),
        ("Łukasz Đoković", "LukaszDokovic"),
        ("Æsa Straße", "AesaStrasse"),
        ("José María Ñúñez", "JoseMariaNunez"),
        ("Zoë O'Brien-Smith 3rd", "ZoeOBrienSmithrd"),
        ("Αλέξανδρος Παπαδόπουλος", "AlexandrosPapadopoylos"),
        ("Дмитрий Шостакович", "DmitriyShostakovich"),
        ("王小明", "WangXiaoMing"),
        ("e\u0301mile", "emile"),  # a combining accent, not a precomposed letter
    ],
)
def test_names_are_written_in_ascii_letters(author, expected):
    assert submission.ascii_letters(author) == expected
    assert submission.archive_name(author) == f"ee556_2021_hw2_{expected}.zip"


def test_a_very_long_name_is_refused_before_anything_is_written(fixture_repo, tmp_path):
    with pytest.raises(ValueError, match="300 letters, more than the 64"):
        submission.build(fixture_repo, tmp_path / "dist", author="A" * 300)
    assert not (tmp_path / "dist").exists() or os.listdir(tmp_path / "dist") == []


def test_the_pdf_is_the_hand_in_by_its_configured_name(fixture_repo, tmp_path):
    latex = fixture_repo / "book/_build/handin/_build/latex"
    (latex / "old-report.pdf").write_bytes(b"%PDF-1.4 stale")  # another, older build
    (latex / "report.pdf").write_bytes(b"%PDF-1.5 current")
    target = submission.build(fixture_repo, tmp_path / "dist")
    pdf = zipfile.ZipFile(target).read("ee556_2021_hw2_AdaBLovelaceKing.pdf")
    assert pdf == b"%PDF-1.5 current"
    (fixture_repo / "book/_config.yml").write_text("author: A B\n")  # no latex section
    assert submission.pdf_path(fixture_repo) == latex / "book.pdf"


def test_a_file_that_is_not_a_pdf_is_refused(fixture_repo, tmp_path):
    pdf = fixture_repo / "book/_build/handin/_build/latex/report.pdf"
    pdf.write_text("<html>not a pdf</html>")
    with pytest.raises(ValueError, match="is not a PDF"):
        submission.build(fixture_repo, tmp_path / "dist")
    with pytest.raises(ValueError, match="is not a PDF"):
        submission.build(fixture_repo, tmp_path / "dist", pdf=fixture_repo / "README.md")
    assert not (tmp_path / "dist").exists() or os.listdir(tmp_path / "dist") == []


def test_a_failure_while_writing_leaves_no_partial_archive(fixture_repo, tmp_path, monkeypatch):
    dist = tmp_path / "dist"
    good = submission.build(fixture_repo, dist)
    before = good.read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "write", fail)
    with pytest.raises(OSError, match="disk full"):
        submission.build(fixture_repo, dist)
    assert os.listdir(dist) == [good.name] and good.read_bytes() == before  # old archive intact


def test_author_from_the_command_line_or_the_environment(
    fixture_repo, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(submission, "repo_root", lambda: fixture_repo)
    assert submission.main(["--out", str(tmp_path / "a"), "--author", "Søren Ørsted"]) == 0
    assert os.listdir(tmp_path / "a") == ["ee556_2021_hw2_SorenOrsted.zip"]
    monkeypatch.setenv("AUTHOR", "Émile Zola")
    assert submission.main(["--out", str(tmp_path / "b")]) == 0
    assert os.listdir(tmp_path / "b") == ["ee556_2021_hw2_EmileZola.zip"]
    monkeypatch.delenv("AUTHOR")
    assert submission.main(["--out", str(tmp_path / "c")]) == 0
    assert os.listdir(tmp_path / "c") == ["ee556_2021_hw2_AdaBLovelaceKing.zip"]
    assert submission.main(["--out", str(tmp_path / "d"), "--author", "A" * 300]) == 1
    assert "300 letters" in capsys.readouterr().err
