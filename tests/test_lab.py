"""`make lab` opens the chapters: JupyterLab serves each MyST chapter as a notebook.

Starts the server with the very command `make lab` runs (read from ``make -n lab``), plus
a port, a token and no browser, then asks it over its REST API what a student's double
click asks: a chapter's contents as a notebook.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import shlex

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
OVERRIDES = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
TOKEN = "course-lab-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    if not (VENV_BIN / "jupyter-lab").exists():
        pytest.fail(f"jupyter-lab is not installed in {VENV_BIN}: run `make install`")
    # the overrides file is what `make lab` writes before starting the server
    subprocess.run(["make", "--no-print-directory", str(OVERRIDES.relative_to(ROOT))],
                   cwd=ROOT, check=True, capture_output=True)
    lab_command = [line for line in subprocess.run(
        ["make", "--no-print-directory", "-n", "lab"], cwd=ROOT, check=True,
        capture_output=True, text=True).stdout.splitlines() if " lab " in line][-1]
    port = _free_port()
    runtime = tmp_path_factory.mktemp("lab-runtime")
    log = (runtime / "lab.log").open("w")
    server = subprocess.Popen(
        shlex.split(lab_command) + ["--no-browser", f"--port={port}", "--ip=127.0.0.1",
                                    f"--IdentityProvider.token={TOKEN}"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        env={**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime)})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            _get(f"{base}/api/status")
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail("JupyterLab did not start:\n" + (runtime / "lab.log").read_text())
            time.sleep(0.5)
    yield base
    server.terminate()
    server.wait(timeout=30)
    log.close()


def test_lab_overrides_make_jupytext_the_default_viewer():
    subprocess.run(["make", "--no-print-directory", str(OVERRIDES.relative_to(ROOT))],
                   cwd=ROOT, check=True, capture_output=True)
    viewers = json.loads(OVERRIDES.read_text())[
        "@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers["markdown"] == "Jupytext Notebook"


def test_lab_serves_a_chapter_as_a_notebook(lab_server):
    model = _get(f"{lab_server}/api/contents/03_evaluation.md?type=notebook&content=1")
    assert model["type"] == "notebook"
    cells = model["content"]["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    assert any(c["cell_type"] == "markdown" and c["source"].startswith("# ") for c in cells)


def test_lab_lists_every_chapter(lab_server):
    listing = _get(f"{lab_server}/api/contents/")
    names = {item["name"] for item in listing["content"]}
    chapters = {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.md")}
    assert chapters and chapters <= names
