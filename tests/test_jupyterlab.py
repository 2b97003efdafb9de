"""JupyterLab as a reader meets the book (`make lab`).

One Lab server serves a copy of ``book/`` (so that nothing it saves can reach the repository's
notebooks), with the quick profile in its environment. The smoke test checks what Lab offers: the
notebooks' kernel, nothing else, running this environment, and the MyST renderer. The browser
test opens each chapter in headless Chromium (driven by Playwright, which downloads no browser of
its own here), runs all cells and reads the rendered Markdown as a reader would: every ``{eval}``
evaluated, no raw MyST role, math typeset, no TeX source left. A screenshot per chapter goes to
``book/_build/screenshots/lab-<chapter>.png``.

The browser test is skipped where no Chromium is installed; CI sets ``BOOK_CHECKS_REQUIRED=1``
so that it fails instead.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "book" / "_build" / "screenshots"
CHAPTERS = ["minimax", "gan", "optimizers", "performance"]
EVAL = re.compile(r"\{eval\}`([^`]+)`")
RAW_ROLES = ["{eval}", "{cite", "{ref}", "{eq}", "{numref}", "{glue"]
# Lab settings for an unattended reader: never save (the copy must stay as opened), render every
# cell (Lab otherwise renders only the cells in view), start the notebook's kernel without asking,
# and no news pop-up.
LAB_SETTINGS = {
    "docmanager-extension/plugin": {"autosave": False},
    "notebook-extension/tracker": {"windowingMode": "none", "autoStartDefaultKernel": True},
    "apputils-extension/notification": {"fetchNews": "false"},
}
RUN_TIMEOUT_S = 240  # one chapter in the quick profile runs in well under a minute


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def _notebook_kernels() -> set[str]:
    """Kernel names the chapters' notebooks declare."""
    return {
        json.loads(p.read_text())["metadata"]["kernelspec"]["name"]
        for p in (ROOT / "book").glob("*.ipynb")
    }


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    """A JupyterLab server on a free loopback port, serving a copy of the book."""
    work = tmp_path_factory.mktemp("lab")
    shutil.copytree(
        ROOT / "book", work / "book", ignore=shutil.ignore_patterns("_build", ".ipynb_checkpoints")
    )
    for name, values in LAB_SETTINGS.items():
        path = work / "settings" / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--ServerApp.token=",
        "--ServerApp.password=",
        "--ServerApp.allow_root=True",
        f"--ServerApp.root_dir={work / 'book'}",
        f"--LabApp.user_settings_dir={work / 'settings'}",
        f"--LabApp.workspaces_dir={work / 'workspaces'}",
        "--LabApp.expose_app_in_browser=True",
    ]
    env = dict(os.environ, BOOK_PROFILE="quick", JUPYTER_RUNTIME_DIR=str(work / "runtime"))
    log_path = work / "lab.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 90
            while True:
                try:
                    if _get(f"{base}/api/status")[0] == 200:
                        break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{log_path.read_text()}")
                time.sleep(0.5)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_lab_offers_the_notebooks_kernel_and_the_myst_renderer(lab_server):
    status, page = _get(f"{lab_server}/lab")
    assert status == 200 and b"JupyterLab" in page
    assert b"jupyterlab-myst" in page, "the jupyterlab-myst extension is not installed"

    specs = json.loads(_get(f"{lab_server}/api/kernelspecs")[1])["kernelspecs"]
    wanted = _notebook_kernels()
    assert set(specs) == wanted, (
        f"Lab offers the kernels {sorted(specs)}, the notebooks declare {sorted(wanted)}: a "
        "reader would be asked to choose (remove the others with `jupyter kernelspec remove`)"
    )
    for name in wanted:
        python = specs[name]["spec"]["argv"][0]
        # A bare `python` is the server's own interpreter (jupyter_client substitutes it).
        bare = python in ("python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}")
        assert bare or Path(python).parent == Path(sys.executable).parent, (
            f"kernel {name!r} runs {python}, not this environment"
        )

    names = {item["name"] for item in json.loads(_get(f"{lab_server}/api/contents")[1])["content"]}
    assert {f"{c}.ipynb" for c in CHAPTERS} <= names


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        message = "no Chromium installed (Debian: apt-get install chromium)"
        if os.environ.get("BOOK_CHECKS_REQUIRED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _markdown_sources(chapter: str) -> list[str]:
    cells = json.loads((ROOT / "book" / f"{chapter}.ipynb").read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def _head(source: str) -> str:
    """The first line of a cell, to name it in a message."""
    return source.strip().splitlines()[0][:60] if source.strip() else ""


_KERNEL_IDLE = """() => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session
              && w.sessionContext.session.kernel;
    return !!k && k.connectionStatus === 'connected' && k.status === 'idle'
           && (window.__runAll === undefined || window.__runAll !== 'running');
}"""
_RUN_ALL = """() => {
    window.__runAll = 'running';
    window.jupyterapp.commands.execute('notebook:run-all-cells')
        .then(() => { window.__runAll = 'done'; }, e => { window.__runAll = 'failed: ' + e; });
}"""
_CELLS = """() => Array.from(window.jupyterapp.shell.currentWidget.content.widgets).map(cell => ({
    type: cell.model.type,
    errors: cell.model.type === 'code' ? cell.model.outputs.toJSON()
        .filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue) : [],
    expressions: (cell.model.getMetadata('user_expressions') || [])
        .map(e => ({expression: e.expression, status: e.result.status})),
    text: cell.model.type === 'markdown' ? cell.node.querySelector('.myst')
        ?.innerText ?? '' : '',
    katex: cell.node.querySelectorAll('.katex').length,
    expressionErrors: cell.node.querySelectorAll('.myst-RenderedExpressionError').length,
    // an inline expression without its value is shown as its source, in a code element
    unrendered: Array.from(cell.node.querySelectorAll('.myst code')).map(e => e.textContent)
        .filter(t => (cell.model.getMetadata('user_expressions') || [])
            .some(e => e.expression === t)),
}))"""


def _run_chapter(page, base: str, chapter: str, expected: list[list[str]]) -> list[dict]:
    """Open a chapter, run all its cells, and return its cells once the prose has its values."""
    # A workspace of its own, so that Lab does not restore the chapters opened before.
    page.goto(f"{base}/lab/workspaces/{chapter}/tree/{chapter}.ipynb")
    page.wait_for_function(_KERNEL_IDLE, timeout=120_000, polling=500)
    page.evaluate(_RUN_ALL)
    page.wait_for_function(
        "() => window.__runAll !== 'running'", timeout=RUN_TIMEOUT_S * 1000, polling=1000
    )
    assert page.evaluate("window.__runAll") == "done"
    # Inline expressions are evaluated once the kernel is free again after the last cell.
    page.wait_for_function(_KERNEL_IDLE, timeout=60_000, polling=500)
    deadline = time.monotonic() + 60
    while True:
        cells = page.evaluate(_CELLS)
        got = [
            [e["expression"] for e in c["expressions"]] for c in cells if c["type"] == "markdown"
        ]
        pending = [e for c in cells for e in c["unrendered"]]
        if (got == expected and not pending) or time.monotonic() > deadline:
            return cells
        time.sleep(1)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_reads_in_lab_as_in_the_book(lab_server, browser, chapter):
    sources = _markdown_sources(chapter)
    expected = [EVAL.findall(s) for s in sources]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / f"lab-{chapter}-failed.png").unlink(missing_ok=True)  # from an earlier run
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        cells = _run_chapter(page, lab_server, chapter, expected)
        errors = [e for c in cells for e in c["errors"]]
        assert errors == [], f"{chapter}: cells failed in Lab: {errors}"
        markdown = [c for c in cells if c["type"] == "markdown"]
        assert len(markdown) == len(sources)
        unevaluated = [
            (_head(src), [e for e in want if e not in [x["expression"] for x in c["expressions"]]])
            for src, want, c in zip(sources, expected, markdown, strict=True)
            if [x["expression"] for x in c["expressions"]] != want
        ]
        assert unevaluated == [], (
            f"{chapter}: Markdown cells whose {{eval}} roles Lab did not evaluate "
            f"(cell, expressions missing): {unevaluated}"
        )
        for source, cell in zip(sources, markdown, strict=True):
            head = _head(source)
            failed = [e["expression"] for e in cell["expressions"] if e["status"] != "ok"]
            assert failed == [], f"{chapter}, cell {head!r}: expressions that failed: {failed}"
            assert cell["expressionErrors"] == 0, f"{chapter}, cell {head!r}: expression errors"
            shown = cell["unrendered"]
            assert shown == [], f"{chapter}, cell {head!r}: expressions shown as code: {shown}"
            text = cell["text"]
            raw = [role for role in RAW_ROLES if role in text]
            assert raw == [], f"{chapter}, cell {head!r}: raw MyST roles {raw} in {text[:300]!r}"
            assert 'f"{' not in text, f"{chapter}, cell {head!r}: an expression shown unevaluated"
            tex = re.findall(r"\$[^$\n]+\$|\\\(|\\\[|\\[A-Za-z]{2,}", text)
            assert tex == [], f"{chapter}, cell {head!r}: untypeset math {tex[:5]}"
            if re.search(r"\$[^$]+\$", source):
                assert cell["katex"] > 0, f"{chapter}, cell {head!r}: its math was not typeset"

        # The screenshot shows the first passage with computed numbers.
        first = next((i for i, c in enumerate(markdown) if c["expressions"]), 0)
        page.evaluate(f"""() => window.jupyterapp.shell.currentWidget.content.widgets
            .filter(c => c.model.type === 'markdown')[{first}].node.scrollIntoView()""")
        page.screenshot(path=str(SCREENSHOTS / f"lab-{chapter}.png"))
    except Exception:
        page.screenshot(path=str(SCREENSHOTS / f"lab-{chapter}-failed.png"))
        raise
    finally:
        page.evaluate("""() => {
            const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            return w && w.sessionContext ? w.sessionContext.shutdown() : null; }""")
        page.close()
