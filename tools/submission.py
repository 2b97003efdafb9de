"""The homework's submission archive: ``python -m tools.submission`` (or ``make submission``).

The course asks for one ZIP named ``ee556_2021_hw2_NameSurname.zip`` holding the code and the
PDF report. The name is taken from ``author`` in ``book/_config.yml`` (letters only). The archive
holds the PDF, the package, the notebooks and the book's sources, the tests, the README and the
environment files; never build outputs, data, results or virtual environments.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
import zipfile
from pathlib import Path

import yaml

from lib.config import repo_root

ARCHIVE_TEMPLATE = "ee556_2021_hw2_{name}.zip"
# Files at the top of the repository that go in, and the folders whose files go in.
TOP_FILES = ("README.md", "pyproject.toml", "environment.yml", "Makefile", "conftest.py")
FOLDERS = {"lib": ("*.py",), "tests": ("*.py",), "benchmarks": ("*.py", "results.json"),
           "book": ("*.ipynb", "*.md", "*.yml", "*.bib", "_ext/*.py", "_static/*.sty",
                    "_static/*.svg")}
NEVER = ("_build", "__pycache__", ".ipynb_checkpoints", ".venv", "data", "results")


def archive_name(author: str) -> str:
    """``ee556_2021_hw2_<ASCII letters of author>.zip``; ValueError if there are none."""
    # Accents are dropped (É -> E) so that the name stays ASCII, as upload forms expect.
    ascii_form = unicodedata.normalize("NFKD", author).encode("ascii", "ignore").decode()
    letters = "".join(ch for ch in ascii_form if ch.isalpha())
    if not letters:
        raise ValueError(f"author must contain letters (set it in book/_config.yml), got {author!r}")
    return ARCHIVE_TEMPLATE.format(name=letters)


def book_author(root: Path) -> str:
    config = yaml.safe_load((root / "book" / "_config.yml").read_text())
    author = (config or {}).get("author")
    if not isinstance(author, str):
        raise ValueError("book/_config.yml has no author: set `author: Name Surname`")
    return author


def find_pdf(root: Path) -> Path:
    pdfs = sorted((root / "book" / "_build" / "latex").glob("*.pdf"))
    if not pdfs:
        raise FileNotFoundError(
            f"no PDF report in {root / 'book' / '_build' / 'latex'}: build it with `make pdf`")
    return pdfs[0]


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


def build(root: Path, out_dir: Path, pdf: Path | None = None) -> Path:
    """Write the archive into ``out_dir`` and return its path."""
    pdf = pdf or find_pdf(root)
    if not pdf.is_file():
        raise FileNotFoundError(f"pdf {pdf} does not exist")
    name = archive_name(book_author(root))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / name
    partial = target.with_suffix(".zip.part")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(pdf, f"{Path(name).stem}.pdf")
        for path in members(root):
            archive.write(root / path, path.as_posix())
    partial.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=repo_root() / "dist", help="output folder")
    parser.add_argument("--pdf", type=Path, default=None, help="the PDF report (default: the built one)")
    args = parser.parse_args(argv)
    try:
        target = build(repo_root(), args.out, args.pdf)
    except (ValueError, FileNotFoundError) as error:
        print(f"submission: {error}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(target) as archive:
        count = len(archive.namelist())
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB, {count} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
