"""Sphinx extension: MathJax from a Python package, so that the HTML book typesets its math offline.

Sphinx loads MathJax from a CDN by default; offline, such a page shows raw TeX. The package
``sphinx-mathjax-offline`` ships MathJax 3.2.2. Its own Sphinx hook copies the files after every
build, the LaTeX one included; here they join the HTML static files instead, and the build stops
with a message when they are missing, rather than publishing pages whose math is never typeset.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sphinx.errors import ExtensionError

PACKAGE = "sphinx-mathjax-offline"  # the distribution's import name has hyphens
SCRIPT = "mathjax/tex-chtml.js"  # relative to the package's static folder and to _static/


def mathjax_static_dir() -> Path:
    """The package's static folder holding ``mathjax/``; ExtensionError if it is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    static = Path(spec.origin).parent / "static" if spec and spec.origin else None
    if static is None or not (static / SCRIPT).is_file():
        raise ExtensionError(
            f"offline MathJax not found: the HTML book takes it from the Python package {PACKAGE} "
            f'(pip install -e ".[book]"); without it no page would typeset its math'
        )
    return static


def _use_offline_copy(app, config) -> None:
    config.html_static_path = [*config.html_static_path, str(mathjax_static_dir())]
    config.mathjax_path = SCRIPT


def _check_copied(app, exception) -> None:
    """A finished HTML build must contain the script its pages load."""
    if exception is None and app.builder.format == "html":
        if not (Path(app.outdir) / "_static" / SCRIPT).is_file():
            raise ExtensionError(f"the HTML build lacks _static/{SCRIPT}: its math is not typeset")


def setup(app):
    mathjax_static_dir()  # fail at start-up, before any notebook runs
    app.connect("config-inited", _use_offline_copy)
    app.connect("build-finished", _check_copied)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
