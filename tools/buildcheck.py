"""After a book build: ``python -m tools.buildcheck html|pdf|handin``.

Jupyter Book itself fails the build on a failing notebook (``execute: raise_on_error``) and on a
missing offline MathJax (``book/_ext/offline_mathjax.py``). What it does not do: confirm that
the PDF exists once the LaTeX run returns, and place the PDF beside the HTML pages, where the
footer of every page links to it (``html: extra_footer`` in ``book/_config.yml``).

``handin`` checks the hand-in (``make handin``, built into ``book/_build/handin``): its PDF
exists, its page count is printed (and held to :data:`HANDIN_MAX_PAGES` in the full profile), it
has no blank page and no wrapped code line, and,
when the full book's PDF was built from the same code in the same profile, every decimal number
of the hand-in's text also appears in the book's, so that the two builds did not compute
different numbers.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from lib.config import active_profile, repo_root

PDF_IN_HTML = "report.pdf"  # the name the pages' footer links to
HANDIN = Path("handin/_build")  # the hand-in's build, relative to the book's build folder
HANDIN_MAX_PAGES = 20  # what the course's graders are asked to read, at most
WRAP_MARK = "↪"  # Sphinx's LaTeX mark where a code line continues on the next line
DECIMAL = re.compile(r"(?<![\d.])\d+\.\d+(?![\d.])")  # 0.5, 97.97, not 1.2.3 or page numbers


def built_pdf(build: Path) -> Path:
    """The single PDF of ``build/latex``; FileNotFoundError naming the folder if there is none."""
    pdfs = sorted(p for p in (build / "latex").glob("*.pdf") if p.stat().st_size > 0)
    if len(pdfs) != 1:
        raise FileNotFoundError(
            f"expected one PDF in {build / 'latex'}, found {[p.name for p in pdfs]}: "
            "build it with `make pdf`"
        )
    return pdfs[0]


def link_pdf(build: Path) -> Path | None:
    """Copy the built PDF into the HTML build as ``report.pdf``; None if either is missing."""
    html = build / "html"
    if not (html / "index.html").is_file():
        return None
    try:
        pdf = built_pdf(build)
    except FileNotFoundError:
        return None
    target = html / PDF_IN_HTML
    shutil.copyfile(pdf, target)
    return target


def pdf_text(pdf: Path) -> str:
    """The text of ``pdf`` (poppler's ``pdftotext``)."""
    return subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout


def page_count(pdf: Path) -> int:
    """The number of pages of ``pdf`` (poppler's ``pdfinfo``)."""
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    return int(re.search(r"^Pages:\s*(\d+)", info.stdout, re.M).group(1))


def build_inputs(folder: Path) -> dict | None:
    """The profile and code hash a build ran with (``book/_ext/freshness.py``), None if unknown."""
    try:
        return json.loads((folder / "build-inputs.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def layout_faults(text: str) -> list[str]:
    """What a grader should not meet in a PDF's text (``pdftotext -layout``, pages separated by
    form feeds): blank pages, and code lines wrapped onto the next line."""
    pages = text.split("\f")[:-1] if text.endswith("\f") else text.split("\f")
    faults = [f"page {n} is blank" for n, page in enumerate(pages, 1) if not page.strip()]
    wrapped = [line.strip() for line in text.splitlines() if WRAP_MARK in line]
    if wrapped:
        faults.append(f"{len(wrapped)} code lines wrap, e.g. {wrapped[0][:60]!r}")
    return faults


def numbers_missing_from(handin_text: str, book_text: str) -> list[str]:
    """The decimal numbers of the hand-in's text that the full book's text lacks."""
    book = set(DECIMAL.findall(book_text))
    return sorted(set(DECIMAL.findall(handin_text)) - book)


def check_handin(build: Path) -> int:
    pdf = built_pdf(build / HANDIN)
    if shutil.which("pdfinfo") is None or shutil.which("pdftotext") is None:
        print(f"build check: hand-in {pdf} (poppler-utils missing: pages not counted)")
        return 0
    pages = page_count(pdf)
    print(f"build check: hand-in {pdf}, {pages} pages")
    if pages > HANDIN_MAX_PAGES and active_profile() == "full":
        print(f"build check: the hand-in has more than {HANDIN_MAX_PAGES} pages", file=sys.stderr)
        return 1
    faults = layout_faults(pdf_text(pdf))
    if faults:
        print(f"build check: the hand-in's layout: {'; '.join(faults)}", file=sys.stderr)
        return 1
    try:
        book = built_pdf(build)
    except FileNotFoundError:
        print("build check: no full PDF to compare the hand-in's numbers with")
        return 0
    if build_inputs(build / HANDIN / "latex") != build_inputs(build / "latex"):
        print(
            f"build check: {book} was built from other code or in another profile than the "
            "hand-in: numbers not compared (`make pdf` rebuilds it)"
        )
        return 0
    missing = numbers_missing_from(pdf_text(pdf), pdf_text(book))
    if missing:
        print(
            f"build check: numbers of the hand-in that the full PDF lacks: {missing[:20]}; "
            "rebuild both from the same stored results",
            file=sys.stderr,
        )
        return 1
    print(f"build check: every number of the hand-in is in {book}")
    return 0


def main(argv: list[str], build: Path | None = None) -> int:
    if len(argv) != 1 or argv[0] not in ("html", "pdf", "handin"):
        print("usage: python -m tools.buildcheck html|pdf|handin", file=sys.stderr)
        return 2
    build = build or repo_root() / "book" / "_build"
    if argv[0] == "handin":
        try:
            return check_handin(build)
        except FileNotFoundError as error:
            print(f"build check: {error}", file=sys.stderr)
            return 1
    if argv[0] == "pdf":
        try:
            print(f"build check: PDF {built_pdf(build)}")
        except FileNotFoundError as error:
            print(f"build check: {error}", file=sys.stderr)
            return 1
    linked = link_pdf(build)
    if linked is not None:
        print(f"build check: PDF linked from the HTML book as {linked}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
