"""The homework's submission archive: ``python -m tools.submission`` (or ``make submission``).

The course asks for one ZIP named ``ee556_2021_hw2_NameSurname.zip`` holding the code and the
PDF report. The name comes from ``--author``, else ``$AUTHOR``
(``make submission AUTHOR="Name Surname"``), else ``author`` in ``book/_config.yml``, written
in ASCII letters (``Søren Ørsted`` gives ``SorenOrsted``, ``Αλέξανδρος`` ``Alexandros``). The
PDF is the hand-in (``make handin``: the graded chapters alone, built from
``book/_toc_handin.yml`` into :data:`HANDIN_BUILD`), found by the name ``book/_config.yml``
gives it, and must be a PDF.
The archive holds the PDF, the package, the notebooks and the book's sources, the tests, the
README and the environment files; never build outputs, data, results or virtual environments.
It is written to a temporary file and renamed when complete, so a failure never leaves a
partial archive.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import unicodedata
import zipfile
from pathlib import Path

import yaml
from anyascii import anyascii

from lib.config import repo_root

ARCHIVE_TEMPLATE = "ee556_2021_hw2_{name}.zip"
MAX_NAME_LETTERS = 64  # the name part of the archive; file names must stay well under 255 bytes
PDF_MAGIC = b"%PDF-"
DEFAULT_TARGET = "book.tex"  # Jupyter Book's LaTeX file name when _config.yml sets none
HANDIN_BUILD = Path("book/_build/handin/_build")  # `make handin` builds here (--path-output)
# Files at the top of the repository that go in, and the folders whose files go in.
TOP_FILES = ("README.md", "pyproject.toml", "environment.yml", "Makefile", "conftest.py")
FOLDERS = {
    "lib": ("*.py",),
    "tests": ("*.py",),
    "benchmarks": ("*.py", "results.json"),
    "book": ("*.ipynb", "*.md", "*.yml", "*.bib", "_ext/*.py", "_static/*.sty", "_static/*.svg"),
}
NEVER = ("_build", "__pycache__", ".ipynb_checkpoints", ".venv", "data", "results")


def ascii_letters(author: str) -> str:
    """The letters of ``author`` written in ASCII: ``"Søren Ørsted"`` gives ``"SorenOrsted"``.

    Each letter is transliterated with anyascii (Latin letters lose their accents and ø, æ, ß,
    ł, đ become o, ae, ss, l, d; Greek, Cyrillic and CJK names are romanised); spaces,
    punctuation and digits are dropped.

    Raises:
        ValueError: ``author`` has no letters, a letter with no ASCII spelling, or more than
            :data:`MAX_NAME_LETTERS` letters.
    """
    if not isinstance(author, str):
        raise ValueError(f"author must be a string, got {author!r}")
    letters = []
    for char in unicodedata.normalize("NFC", author):
        if unicodedata.category(char)[0] not in "LM":
            continue  # spaces, punctuation, digits
        spelled = "".join(c for c in anyascii(char) if c.isascii() and c.isalpha())
        if not spelled and unicodedata.category(char)[0] == "L":
            raise ValueError(
                f"author: the letter {char!r} of {author!r} has no ASCII spelling; "
                f"pass a Latin spelling with --author (or AUTHOR=...)"
            )
        letters.append(spelled)
    name = "".join(letters)
    if not name:
        raise ValueError(
            f"author must contain letters (set it with --author, AUTHOR=... or in "
            f"book/_config.yml), got {author!r}"
        )
    if len(name) > MAX_NAME_LETTERS:
        raise ValueError(
            f"author gives a name of {len(name)} letters, more than the "
            f"{MAX_NAME_LETTERS} an archive name can hold: pass a shorter --author"
        )
    return name


def archive_name(author: str) -> str:
    """``ee556_2021_hw2_<ASCII letters of author>.zip`` (see :func:`ascii_letters`)."""
    return ARCHIVE_TEMPLATE.format(name=ascii_letters(author))


def _book_config(root: Path) -> dict:
    config = yaml.safe_load((root / "book" / "_config.yml").read_text(encoding="utf-8"))
    return config if isinstance(config, dict) else {}


def book_author(root: Path) -> str:
    """``author`` of ``book/_config.yml``."""
    author = _book_config(root).get("author")
    if not isinstance(author, str):
        raise ValueError(
            "book/_config.yml has no author: set `author: Name Surname`, or pass "
            '--author (make submission AUTHOR="Name Surname")'
        )
    return author


def pdf_path(root: Path) -> Path:
    """Where the hand-in's PDF is built: ``book/_build/handin/_build/latex/<targetname>.pdf``.

    ``targetname`` is ``latex: latex_documents: targetname`` of ``book/_config.yml`` (``.tex``
    replaced by ``.pdf``). Other PDFs in that folder (an older build under another name) are
    never packed.
    """
    latex = _book_config(root).get("latex")
    documents = latex.get("latex_documents") if isinstance(latex, dict) else None
    target = documents.get("targetname") if isinstance(documents, dict) else None
    target = target if isinstance(target, str) and target.strip() else DEFAULT_TARGET
    return root / HANDIN_BUILD / "latex" / Path(target).with_suffix(".pdf").name


def find_pdf(root: Path) -> Path:
    """The book's PDF (see :func:`pdf_path`), checked to exist."""
    pdf = pdf_path(root)
    if not pdf.is_file():
        raise FileNotFoundError(f"no PDF report at {pdf}: build it with `make handin`")
    return pdf


def check_pdf(pdf: Path) -> Path:
    """``pdf`` if it is a file that starts like a PDF (``%PDF-``)."""
    if not pdf.is_file():
        raise FileNotFoundError(f"pdf {pdf} does not exist")
    with open(pdf, "rb") as file:
        start = file.read(len(PDF_MAGIC))
    if start != PDF_MAGIC:
        raise ValueError(f"pdf {pdf} is not a PDF (it starts with {start!r}, not {PDF_MAGIC!r})")
    return pdf


def members(root: Path) -> list[Path]:
    """The repository files that go into the archive, relative to ``root``."""
    found = [root / name for name in TOP_FILES if (root / name).is_file()]
    for folder, patterns in FOLDERS.items():
        for pattern in patterns:
            found += sorted((root / folder).glob(pattern))
            if folder != "book":
                found += sorted((root / folder).glob(f"**/{pattern}"))
    unique = dict.fromkeys(p.relative_to(root) for p in found if p.is_file())
    return [p for p in unique if not set(p.parts) & set(NEVER)]


def build(root: Path, out_dir: Path, pdf: Path | None = None, author: str | None = None) -> Path:
    """Write the archive into ``out_dir`` and return its path.

    ``author`` defaults to ``book/_config.yml``'s; ``pdf`` to the book's PDF. The archive appears
    complete or not at all: it is written to a temporary file in ``out_dir``, renamed when done
    and removed on any error.
    """
    name = archive_name(author if author is not None else book_author(root))
    pdf = check_pdf(pdf if pdf is not None else find_pdf(root))
    out_dir = Path(out_dir)
    target = out_dir / name
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=out_dir, prefix=".", suffix=".zip.tmp")
    try:
        with (
            os.fdopen(fd, "wb") as file,
            zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED) as archive,
        ):
            archive.write(pdf, f"{Path(name).stem}.pdf")
            for path in members(root):
                archive.write(root / path, path.as_posix())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=repo_root() / "dist", help="output folder")
    parser.add_argument(
        "--pdf",
        type=Path,
        default=None,
        help="the PDF report (default: the hand-in's, as named in book/_config.yml)",
    )
    parser.add_argument(
        "--author",
        default=os.environ.get("AUTHOR") or None,
        help="'Name Surname' for the archive's name (default: $AUTHOR, else "
        "author in book/_config.yml)",
    )
    args = parser.parse_args(argv)
    try:
        target = build(repo_root(), args.out, args.pdf, args.author)
    except (ValueError, OSError) as error:
        print(f"submission: {error}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(target) as archive:
        count = len(archive.namelist())
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB, {count} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
