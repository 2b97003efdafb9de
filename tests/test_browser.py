"""The built HTML book as a reader sees it, in headless Chromium.

Each page of ``book/_build/html`` is served on loopback and opened in the system's Chromium
(driven by Playwright, which never downloads a browser of its own here). A page passes when its
math was typeset by the book's own MathJax (no raw ``\\(`` left), every image loaded and the
console stayed free of errors. A screenshot per page goes to ``book/_build/screenshots/``.

Each page's footer links the PDF (``report.pdf``, placed beside the pages by ``make pdf``); where
the PDF is there, the link must lead to it.

Skipped where no Chromium is installed, or where the book has not been built (``make html``);
CI sets ``BOOK_CHECKS_REQUIRED=1`` so that a missing browser, build or PDF fails instead.
"""

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "book" / "_build" / "html"
SCREENSHOTS = ROOT / "book" / "_build" / "screenshots"
PDF = "report.pdf"  # tools.buildcheck.PDF_IN_HTML
PAGES = [
    "intro",
    "minimax",
    "gan",
    "optimizers",
    "minimax_beyond",
    "gan_beyond",
    "performance",
    "bibliography",
]

REQUIRED = os.environ.get("BOOK_CHECKS_REQUIRED") == "1"


def _skip_or_fail(message: str):
    if REQUIRED:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").is_file():
        _skip_or_fail(f"the HTML book is not built ({HTML}): run `make html` first")
    handler = functools.partial(QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        _skip_or_fail("no Chromium installed (Debian: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.mark.parametrize("name", PAGES)
def test_page_renders_offline(site, browser, name):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors, outside, missing = [], [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith((site, "data:", "blob:")) else None,
    )
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    page.goto(f"{site}/{name}.html", wait_until="load")
    has_math = page.evaluate("document.querySelectorAll('.math').length") > 0
    if has_math:
        page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("MathJax.startup.promise")
        assert page.evaluate("document.querySelectorAll('mjx-container').length") > 0
    text = page.inner_text("main")
    assert "\\(" not in text and "\\[" not in text, f"{name}: raw TeX left in the page"
    broken = page.evaluate("""Array.from(document.images)
        .filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)""")
    assert broken == [], f"{name}: images that did not load: {broken}"
    assert outside == [], f"{name}: requests that leave the book: {outside}"
    assert missing == [], f"{name}: files the page asks for but the book lacks: {missing}"
    assert errors == [], f"{name}: console errors: {errors}"
    pdf_links = page.evaluate("""Array.from(document.querySelectorAll('footer a'))
        .map(a => a.getAttribute('href')).filter(h => h && h.endsWith('.pdf'))""")
    assert pdf_links == [PDF], f"{name}: the footer should link {PDF}, links {pdf_links}"
    if (HTML / PDF).is_file() or REQUIRED:
        response = page.request.get(f"{site}/{PDF}")
        assert response.ok and response.body().startswith(b"%PDF"), f"{name}: {PDF} is missing"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    page.close()


@pytest.mark.parametrize("name", ["minimax", "gan", "optimizers"])
def test_the_quoted_questions_equations_fit_their_box_at_1280_px(site, browser, name):
    """The homework's display equations, numbers included, are not clipped in a question box."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{site}/{name}.html", wait_until="load")
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
        widths = page.evaluate(
            """() => [...document.querySelectorAll('div.admonition mjx-container[display]')]
                .map(e => [e.scrollWidth, e.clientWidth])"""
        )
    finally:
        page.close()
    assert [w for w in widths if w[0] > w[1]] == []
