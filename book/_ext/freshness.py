"""Sphinx extension: a page never shows numbers from code or settings that changed since it ran.

Sphinx re-reads (and myst-nb re-executes) a page only when its source file changed, but the pages
compute with ``lib/`` and ``benchmarks/`` under the profile ``BOOK_PROFILE``, and the extensions of
``book/_ext`` shape them. This extension hashes what the pages' numbers depend on (:func:`inputs`)
and, when the hash differs from that of the last build that ended without errors or warnings, marks
every page outdated, so that every build (``make html``, ``make pdf``, ``make handin`` or a plain
``jupyter-book build book/``) executes the pages again. The stored runs under ``results/`` are keyed
on the same code, so a page reloads what is still valid and retrains the rest.

Pages built in the ``quick`` profile carry a warning where their numbers are; each clean build
writes :data:`RECORD` (profile and hash) into its output folder, which the build check and the
submission read. An HTML build also places the last PDF built beside its pages, where their
footer links to it.
"""

import hashlib
import json
import os
from importlib.metadata import version
from pathlib import Path

from docutils import nodes
from sphinx.util import logging

from lib.config import active_profile, repo_root
from tools.buildcheck import link_pdf

RECORD = "build-inputs.json"  # written into the builder's output folder
SOURCES = (("lib", "**/*.py"), ("benchmarks", "**/*.py"), ("benchmarks", "results.json"))
SOURCES += (("book/_ext", "*.py"),)  # the extensions shape what a page shows
logger = logging.getLogger(__name__)
QUICK_NOTE = (
    "Built in the quick profile (BOOK_PROFILE=quick): small sizes for tests, so the numbers on "
    "this page are indicative, not the homework's. Build with BOOK_PROFILE=full (the default) "
    "for the report."
)


def inputs() -> dict:
    """The profile, the device setting, torch's version and a SHA-256 of the source files."""
    root = repo_root()
    digest = hashlib.sha256()
    for folder, pattern in SOURCES:
        for path in sorted((root / folder).glob(pattern)):
            if "__pycache__" not in path.parts:
                digest.update(path.relative_to(root).as_posix().encode() + b"\0")
                digest.update(path.read_bytes() + b"\0")
    return {
        "profile": active_profile(),
        "device": os.environ.get("BOOK_DEVICE", ""),
        "torch": version("torch"),
        "sources": digest.hexdigest(),
    }


def _last_clean_build(app) -> dict | None:
    try:
        return json.loads((Path(app.doctreedir) / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _outdated(app, env, added, changed, removed):
    current = env.book_inputs = inputs()
    previous = _last_clean_build(app)
    if previous == current:
        return []
    again = sorted(env.found_docs - added - changed - removed)
    if again:  # not on a first build, which reads every page anyway
        keys = [k for k in current if previous is None or current[k] != previous.get(k)]
        logger.info("book inputs changed (%s): executing every page again", ", ".join(keys))
    return again


def _quick_note(app, doctree):
    """In the quick profile, a warning below the title of every page that runs code."""
    if app.env.book_inputs["profile"] != "quick":
        return
    runs_code = any(
        node.get("nb_element") == "cell_code" for node in doctree.findall(nodes.container)
    )
    section = next(iter(doctree.findall(nodes.section)), None)
    if not runs_code or section is None:
        return
    note = nodes.warning("", nodes.paragraph(text=QUICK_NOTE), classes=["quick-profile"])
    section.insert(1, note)  # after the title


def _record(app, exception):
    """After a build without errors or warnings: its inputs, beside the environment (what the
    next build compares with) and in the output folder. A build that failed or warned (a page
    that did not execute, an {eval} that did not resolve) records nothing, so the next build
    executes every page again."""
    if exception is not None or app._warncount or not hasattr(app.env, "book_inputs"):
        return
    text = json.dumps(app.env.book_inputs, indent=1) + "\n"
    for folder in (app.doctreedir, app.outdir):
        (Path(folder) / RECORD).write_text(text, encoding="utf-8")
    if app.builder.format == "html":
        # the footer links to the PDF: place the last one built beside the pages
        if link_pdf(Path(app.outdir).parent) is None:
            logger.info("no PDF built yet: the footer's PDF link works after `make pdf`")


def setup(app):
    app.connect("env-get-outdated", _outdated)
    app.connect("doctree-read", _quick_note)
    app.connect("build-finished", _record)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
