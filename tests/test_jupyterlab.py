"""Smoke test of `make lab`: JupyterLab serves the book with the project's kernel."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "minimax-gan-optimizers"  # installed by `make setup` into the environment


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


@pytest.fixture
def lab_server(tmp_path):
    port = _free_port()
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", "--ServerApp.port_retries=0", "--ServerApp.token=",
               "--ServerApp.password=", "--ServerApp.allow_root=True",
               f"--ServerApp.root_dir={ROOT / 'book'}"]
    log = open(tmp_path / "lab.log", "wb")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
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
                pytest.fail(f"JupyterLab did not start:\n{(tmp_path / 'lab.log').read_text()}")
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_lab_serves_the_book_with_the_project_kernel(lab_server):
    status, page = _get(f"{lab_server}/lab")
    assert status == 200 and b"JupyterLab" in page

    status, body = _get(f"{lab_server}/api/kernelspecs")
    specs = json.loads(body)["kernelspecs"]
    assert KERNEL in specs, (
        f"kernel {KERNEL!r} not installed in this environment (run `make setup`, or "
        f"`python -m ipykernel install --sys-prefix --name {KERNEL}`); found {sorted(specs)}")
    python = Path(specs[KERNEL]["spec"]["argv"][0])
    assert python.parent == Path(sys.executable).parent, f"the kernel runs {python}, not this environment"

    status, body = _get(f"{lab_server}/api/contents")
    names = {item["name"] for item in json.loads(body)["content"]}
    assert "_config.yml" in names
