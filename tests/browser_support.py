"""Headless Chromium for the browser tests (the built HTML and JupyterLab): where it is, and how
it is started on a sandboxed, offline machine (no background connections, no GPU)."""

import shutil

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
