"""After a book build: ``python -m tools.buildcheck html|pdf``.

Jupyter Book itself fails the build on a failing notebook (``execute: raise_on_error``) and on a
missing offline MathJax (``book/_ext/offline_mathjax.py``). What it does not do: confirm that
the PDF exists once the LaTeX run returns, and place the PDF beside the HTML pages, where the
footer of every page links to it (``html: extra_footer`` in ``book/_config.yml``).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from lib.config import repo_root

PDF_IN_HTML = "report.pdf"  # the name the pages' footer links to


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


def main(argv: list[str], build: Path | None = None) -> int:
    if len(argv) != 1 or argv[0] not in ("html", "pdf"):
        print("usage: python -m tools.buildcheck html|pdf", file=sys.stderr)
        return 2
    build = build or repo_root() / "book" / "_build"
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
