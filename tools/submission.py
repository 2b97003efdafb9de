"""The homework's submission archive: ``python -m tools.submission`` (or ``make submission``).

The course asks for one ZIP named ``ee556_2021_hw2_NameSurname.zip`` holding the code and the
PDF report. The name comes from ``--author``, else ``$AUTHOR``
(``make submission AUTHOR="Name Surname"``), else ``author`` in ``book/_config.yml``, written
in ASCII letters (``Søren Ørsted`` gives ``SorenOrsted``, ``Αλέξανδρος`` ``Alexandros``). The
PDF is the hand-in (``make handin``: the graded chapters alone, built from
``book/_toc_handin.yml`` into :data:`HANDIN_BUILD`), found by the name ``book/_config.yml``
gives it, and must be a PDF.
The archive holds the PDF and every file of the project that git tracks or would track (the
package, the notebooks and the book's sources, the tests, the tools, the README, the Makefile and
the environment and CI files); never build outputs, data, results or virtual environments. It is
checked to hold every module and file its code and Makefile need (unzipped into an empty
folder, ``make test`` runs), written to a temporary file and renamed when complete, so a failure
never leaves a partial archive. A copy of the PDF is written beside it. The placeholder author
of ``book/_config.yml`` is refused, so the hand-in always carries the student's name.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
import zipfile
from pathlib import Path

import yaml
from anyascii import anyascii

from lib.cache import give_usual_mode
from lib.config import repo_root

ARCHIVE_TEMPLATE = "ee556_2021_hw2_{name}.zip"
MAX_NAME_LETTERS = 64  # the name part of the archive; file names must stay well under 255 bytes
PLACEHOLDER_AUTHOR = "Ada Lovelace"  # book/_config.yml's author until the student sets theirs
PDF_MAGIC = b"%PDF-"
DEFAULT_TARGET = "book.tex"  # Jupyter Book's LaTeX file name when _config.yml sets none
HANDIN_BUILD = Path("book/_build/handin/_build")  # `make handin` builds here (--path-output)
CONFIG = "book/_config.yml"
BUILD_RECORD = "build-inputs.json"  # the profile a build ran in (book/_ext/freshness.py)
# Never packed, wherever they are: build outputs, data, stored runs, environments, caches.
NEVER = ("_build", "__pycache__", ".ipynb_checkpoints", ".venv", "data", "results", "dist")
NEVER += (".git", "build", ".pytest_cache", ".ruff_cache")


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


def resolve_author(root: Path, author: str | None) -> str:
    """``author`` if given and not blank, else ``book/_config.yml``'s; never the placeholder."""
    author = author if author and author.strip() else book_author(root)
    if author.strip() == PLACEHOLDER_AUTHOR:
        raise ValueError(
            f"author is still the placeholder {PLACEHOLDER_AUTHOR!r} of book/_config.yml: "
            'run `make submission AUTHOR="Name Surname"`, or set `author:` in book/_config.yml'
        )
    return author


def _excluded(path: Path) -> bool:
    if len(path.parts) == 1 and path.name.startswith(ARCHIVE_TEMPLATE.split("{")[0]):
        return True  # an archive or hand-in PDF unpacked here: the PDF goes in under its name
    return any(part in NEVER or part.endswith(".egg-info") for part in path.parts)


def members(root: Path) -> list[Path]:
    """The project's files, relative to ``root``: what git tracks or would track (every file
    not ignored), or, outside a git work tree (an unpacked archive), every file; in both cases
    without the folders of :data:`NEVER`."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
    )
    inside = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--show-toplevel"], capture_output=True, text=True
    )
    if listed.returncode == 0 and Path(inside.stdout.strip()).resolve() == root.resolve():
        found = [Path(name) for name in listed.stdout.decode().split("\0") if name]
    else:
        found = [p.relative_to(root) for p in root.rglob("*")]
    files = {p for p in found if (root / p).is_file() and not _excluded(p)}
    return sorted(files, key=Path.as_posix)


def _code_of(name: str, data: bytes) -> list[str]:
    """The Python sources of one archived file: itself, a notebook's code cells, or the
    ``code-cell`` blocks of a MyST page."""
    text = data.decode("utf-8", errors="replace")
    if name.endswith(".py"):
        return [text]
    if name.endswith(".ipynb"):
        cells = json.loads(text).get("cells", [])
        return ["".join(c["source"]) for c in cells if c.get("cell_type") == "code"]
    if name.endswith(".md"):
        return re.findall(r"^```\{code-cell\}[^\n]*\n(.*?)^```", text, re.M | re.S)
    return []


def _imported(source: str) -> set[str]:
    """Absolute module names a source imports (``from a.b import c`` gives a.b and a.b.c)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a notebook cell with IPython syntax
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def missing_files(archive: Path, root: Path) -> list[str]:
    """What the archived code needs from the project but the archive lacks.

    Every module of the project (a top-level name that is a package or module in ``root``)
    imported by an archived Python file, notebook or MyST page, or run by ``python -m`` in the
    Makefile or ``.ci/run``, must be in the archive (``a/b.py`` or ``a/b/__init__.py``; for
    ``from a import c``, ``c`` may be a name of ``a``); so must every file of ``root`` that the
    Makefile and ``.ci/run`` name, and the book's local Sphinx extensions.
    """
    with zipfile.ZipFile(archive) as zipped:
        names = set(zipped.namelist())
        read = {n: zipped.read(n) for n in names if n.endswith((".py", ".ipynb", ".md"))}
        scripts = [zipped.read(n).decode() for n in ("Makefile", ".ci/run") if n in names]
        config = zipped.read(CONFIG).decode() if CONFIG in names else ""
    wanted = set().union(*(_imported(src) for n, d in read.items() for src in _code_of(n, d)))
    for script in scripts:
        wanted.update(re.findall(r"-m ([A-Za-z_][\w.]*)", script))
    project = {p.stem for p in root.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()}
    missing = []
    for module in sorted(m for m in wanted if m.split(".")[0] in project):
        path = module.replace(".", "/")
        found = {f"{path}.py", f"{path}/__init__.py", f"{path}/__main__.py"} & names
        parent = path.rpartition("/")[0]
        found |= {f"{parent}.py", f"{parent}/__init__.py"} & names if "." in module else set()
        if not found:
            missing.append(f"{path}.py (imported as {module})")
    paths = {p for s in scripts for p in re.findall(r"[\w.-]+(?:/[\w.-]+)+", s)}
    extensions = re.findall(r"^\s+(\w+): _ext", config, re.M)
    paths |= {f"book/_ext/{name}.py" for name in extensions}
    named = (p for p in paths if (root / p).is_file() and not _excluded(Path(p)))
    missing += sorted(p for p in named if p not in names)
    return missing


def check_archive(archive: Path, root: Path) -> Path:
    """``archive`` if it holds every file its code and Makefile need (:func:`missing_files`)."""
    missing = missing_files(archive, root)
    if missing:
        raise ValueError(f"archive {archive.name} lacks files its code needs: {missing}")
    return archive


def build(root: Path, out_dir: Path, pdf: Path | None = None, author: str | None = None) -> Path:
    """Write the archive into ``out_dir``, with a copy of its PDF beside it; return its path.

    ``author`` defaults to ``book/_config.yml``'s; ``pdf`` to the book's PDF. The archive appears
    complete or not at all: it is written to a temporary file in ``out_dir``, checked
    (:func:`check_archive`), renamed when done and removed on any error.
    """
    name = archive_name(resolve_author(root, author))
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
        check_archive(Path(temp), root)
        give_usual_mode(Path(temp))
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    shutil.copyfile(pdf, target.with_suffix(".pdf"))
    return target


def built_profile(pdf: Path) -> str | None:
    """The profile the PDF's build ran in (the record beside it), None if unknown."""
    record = pdf.parent.parent / BUILD_RECORD  # the LaTeX builder's output folder
    if not record.is_file():
        record = pdf.parent / BUILD_RECORD
    try:
        return json.loads(record.read_text(encoding="utf-8"))["profile"]
    except (OSError, ValueError, KeyError):
        return None


QUICK_WARNING = """\
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! The hand-in was built in the QUICK profile: its numbers come from small test-sized runs,
!! not the homework's experiments. For the report to hand in, build it in the full profile:
!!     BOOK_PROFILE=full make submission AUTHOR="Name Surname"
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"""


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
    parser.add_argument(
        "--check-author",
        action="store_true",
        help="only check that an author is set (not the placeholder), and write nothing",
    )
    args = parser.parse_args(argv)
    try:
        if args.check_author:
            print(f"submission: author {resolve_author(repo_root(), args.author)!r}")
            return 0
        target = build(repo_root(), args.out, args.pdf, args.author)
    except (ValueError, OSError) as error:
        print(f"submission: {error}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(target) as archive:
        count = len(archive.namelist())
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB, {count} files)")
    print(f"wrote {target.with_suffix('.pdf')} (the hand-in PDF, also inside the archive)")
    if built_profile(args.pdf or find_pdf(repo_root())) == "quick":
        print(QUICK_WARNING, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
