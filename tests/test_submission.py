"""The submission archive, built from a small fixture repository, and its faults."""

import os
import zipfile

import pytest

from tools import submission

PDF_ZIP = ("pdf", "zip")  # the archive and the copy of its PDF beside it
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
        "ee556_2021_hw2_Someone.pdf": "%PDF-1.5 an unpacked hand-in",
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
    old = sorted([good.name, good.with_suffix(".pdf").name])
    assert sorted(os.listdir(dist)) == old and good.read_bytes() == before  # old archive intact


def test_author_from_the_command_line_or_the_environment(
    fixture_repo, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(submission, "repo_root", lambda: fixture_repo)
    assert submission.main(["--out", str(tmp_path / "a"), "--author", "Søren Ørsted"]) == 0
    assert sorted(os.listdir(tmp_path / "a")) == [
        f"ee556_2021_hw2_SorenOrsted.{x}" for x in PDF_ZIP
    ]
    monkeypatch.setenv("AUTHOR", "Émile Zola")
    assert submission.main(["--out", str(tmp_path / "b")]) == 0
    assert sorted(os.listdir(tmp_path / "b")) == [f"ee556_2021_hw2_EmileZola.{x}" for x in PDF_ZIP]
    monkeypatch.delenv("AUTHOR")
    assert submission.main(["--out", str(tmp_path / "c")]) == 0
    assert sorted(os.listdir(tmp_path / "c")) == [
        f"ee556_2021_hw2_AdaBLovelaceKing.{x}" for x in PDF_ZIP
    ]
    assert submission.main(["--out", str(tmp_path / "d"), "--author", "A" * 300]) == 1
    assert "300 letters" in capsys.readouterr().err


def test_the_placeholder_author_is_refused_and_a_blank_author_means_the_configured_one(
    fixture_repo, tmp_path
):
    config = fixture_repo / "book/_config.yml"
    config.write_text(CONFIG.replace("Ada B. Lovelace-King", submission.PLACEHOLDER_AUTHOR))
    for author in (None, "", "  "):
        with pytest.raises(ValueError, match='placeholder.*AUTHOR="Name Surname"'):
            submission.build(fixture_repo, tmp_path / "dist", author=author)
    assert not (tmp_path / "dist").exists()
    assert submission.build(fixture_repo, tmp_path / "dist", author="Grace Hopper").is_file()
    config.write_text(CONFIG)
    target = submission.build(fixture_repo, tmp_path / "dist", author="")
    assert target.name == "ee556_2021_hw2_AdaBLovelaceKing.zip"


def test_the_pdf_is_copied_beside_the_archive_and_files_follow_the_umask(fixture_repo, tmp_path):
    previous = os.umask(0o027)
    try:
        target = submission.build(fixture_repo, tmp_path / "dist")
    finally:
        os.umask(previous)
    pdf = target.with_suffix(".pdf")
    assert (
        pdf.read_bytes()
        == (fixture_repo / "book/_build/handin/_build/latex/report.pdf").read_bytes()
    )
    assert target.stat().st_mode & 0o777 == 0o640


def test_the_real_archive_holds_everything_its_code_needs(tmp_path):
    """Packed from this repository: the tools, CI and hooks are in, build outputs are not, and the
    check finds nothing missing; without ``tools/`` it names the missing modules."""
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.5 test")
    root = submission.repo_root()
    target = submission.build(root, tmp_path / "dist", pdf=pdf, author="Grace Hopper")
    names = set(zipfile.ZipFile(target).namelist())
    assert {"tools/submission.py", "tools/buildcheck.py", ".ci/run", "Makefile"} <= names
    assert {".pre-commit-config.yaml", "book/_ext/freshness.py", "conftest.py"} <= names
    assert not any(n.split("/")[0] in ("results", "data", "dist", ".venv") for n in names)
    assert not any("_build/" in n or "__pycache__" in n for n in names)
    assert submission.missing_files(target, root) == []
    crippled = tmp_path / "crippled.zip"
    with zipfile.ZipFile(target) as full, zipfile.ZipFile(crippled, "w") as part:
        for name in names - {"tools/__init__.py", "tools/buildcheck.py", "book/_toc_handin.yml"}:
            part.writestr(name, full.read(name))
    missing = submission.missing_files(crippled, root)
    assert "tools/buildcheck.py (imported as tools.buildcheck)" in missing
    assert "book/_toc_handin.yml" in missing  # named by the Makefile
    with pytest.raises(ValueError, match="lacks files its code needs"):
        submission.check_archive(crippled, root)


def test_a_quick_hand_in_is_announced_loudly(fixture_repo, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(submission, "repo_root", lambda: fixture_repo)
    latex = fixture_repo / "book/_build/handin/_build/latex"
    (latex / "build-inputs.json").write_text('{"profile": "full"}')
    assert submission.main(["--out", str(tmp_path / "a")]) == 0
    assert "QUICK" not in capsys.readouterr().err
    (latex / "build-inputs.json").write_text('{"profile": "quick"}')
    assert submission.main(["--out", str(tmp_path / "b")]) == 0
    assert "built in the QUICK profile" in capsys.readouterr().err
