"""`make lab` opens the chapters: JupyterLab serves each MyST chapter as a notebook.

Starts the server with the very command `make lab` runs (read from ``make -n lab``;
see tests/browser/lab_harness.py), plus a port, a token and no browser, then asks it
over its REST API what a student's double click asks: a chapter's contents as a
notebook. What a student *sees* is checked in Chromium by tests/test_lab_browser.py.
"""
from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "browser"))
import lab_harness  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
OVERRIDES = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
TOKEN = "course-lab-test"


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory):
    if not (VENV_BIN / "jupyter-lab").exists():
        pytest.fail(f"jupyter-lab is not installed in {VENV_BIN}: run `make install`")
    try:
        with lab_harness.running_lab(tmp_path_factory.mktemp("lab"), TOKEN) as base:
            yield base
    except lab_harness.LabDidNotStart as error:
        pytest.fail(str(error))


def _get(base: str, path: str) -> dict:
    return lab_harness.api_get(base, TOKEN, path)


def test_lab_overrides_make_jupytext_the_default_viewer():
    lab_harness.prepare_overrides()
    viewers = json.loads(OVERRIDES.read_text())[
        "@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers["markdown"] == "Jupytext Notebook"


def test_lab_serves_a_chapter_as_a_notebook(lab_server):
    model = _get(lab_server, "/api/contents/notebooks/03_evaluation.md?type=notebook&content=1")
    assert model["type"] == "notebook"
    cells = model["content"]["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert "parameters" in code[0]["metadata"].get("tags", [])
    assert any(c["cell_type"] == "markdown" and c["source"].startswith("# ") for c in cells)


def test_lab_lists_every_chapter_and_student_notebook(lab_server):
    for folder, pattern in (("notebooks", "[0-9][0-9]_*.md"), ("student", "[0-9][0-9]_*.ipynb")):
        listing = _get(lab_server, f"/api/contents/{folder}")
        names = {item["name"] for item in listing["content"]}
        expected = {p.name for p in (ROOT / folder).glob(pattern)}
        assert expected and expected <= names, folder


def test_jupyterlab_myst_is_installed_and_enabled(lab_server):
    """The extension that renders MyST in the lab is served to the browser, enabled."""
    import jupyterlab_myst

    with urllib.request.urlopen(f"{lab_server}/lab?token={TOKEN}", timeout=30) as response:
        page = response.read().decode()
    config = json.loads(page.split('id="jupyter-config-data" type="application/json">', 1)[1]
                        .split("</script>", 1)[0])
    names = [ext["name"] for ext in config["federated_extensions"]]
    assert "jupyterlab-myst" in names
    assert not any(d.startswith("jupyterlab-myst") for d in config.get("disabledExtensions", []))
    assert jupyterlab_myst.__version__ == "2.7.0"
