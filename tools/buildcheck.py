"""Check a finished book build: ``python -m tools.buildcheck html|pdf``.

Jupyter Book can publish a page whose notebook failed to execute (with a warning only); this
check fails the build instead, and confirms the expected output file exists.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lib.config import repo_root


def check(kind: str, build_dir: Path | None = None) -> list[str]:
    """Return the problems found in a build of ``kind`` ('html' or 'pdf'); empty if none."""
    if kind not in ("html", "pdf"):
        raise ValueError(f"kind must be 'html' or 'pdf', got {kind!r}")
    build = build_dir or repo_root() / "book" / "_build"
    problems = []
    if kind == "html":
        if not (build / "html" / "index.html").is_file():
            problems.append(f"missing {build / 'html' / 'index.html'}")
        reports = sorted((build / "html" / "reports").glob("**/*.err.log"))
        reports += sorted((build / "html" / "reports").glob("**/*.log"))
        problems += [f"notebook execution failed, see {r}" for r in dict.fromkeys(reports)]
    else:
        if not sorted((build / "latex").glob("*.pdf")):
            problems.append(f"no PDF in {build / 'latex'}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tools.buildcheck html|pdf", file=sys.stderr)
        return 2
    problems = check(argv[0])
    for p in problems:
        print(f"build check: {p}", file=sys.stderr)
    if not problems:
        print(f"build check: {argv[0]} build is complete")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
