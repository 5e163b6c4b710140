"""Every chapter executes at the ci profile (picked up from notebooks/ automatically)."""
from __future__ import annotations

import json

import nbformat
import pytest

from course_utils import paths
from conftest import executed_run

CHAPTERS = [p.stem for p in paths.chapters()]
pytestmark = pytest.mark.notebooks


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_executes(chapter):
    run = executed_run(chapter)
    assert run["status"] == "ok", run["error"]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_first_code_cell_is_parameters(chapter):
    nb = nbformat.read(paths.executed_dir("ci") / f"{chapter}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), \
        f"{chapter}: the first code cell must be tagged 'parameters'"
    for name in ("PROFILE", "SEED", "DATA_SOURCE"):
        assert name in code[0].source, f"{chapter}: parameters cell lacks {name}"
    # papermill injected the ci profile right after it
    assert "injected-parameters" in code[1].metadata.get("tags", [])
    assert "'ci'" in code[1].source or '"ci"' in code[1].source


def test_getting_started_environment_check(chapter_results):
    results = chapter_results("00_getting_started")
    assert results["doctor_checks"] >= 6
    assert results["doctor_failures"] == 0


def test_getting_started_sparsity_of_the_thesis_and_the_course(chapter_results):
    from course_utils.data import load

    results = chapter_results("00_getting_started")
    assert results["density_thesis"] == 80_000_000 / (283_044 * 14_478)
    assert 0.980 < 1 - results["density_thesis"] < 0.981  # "about 98 % empty"
    ds = load("synthetic", profile="ci", seed=42)
    assert results["density_course"] == ds.meta["rows_read"] / (len(ds.users) * len(ds.anime))


def test_stats_record_every_chapter():
    for chapter in CHAPTERS:
        executed_run(chapter)
    stats = json.loads((paths.executed_dir("ci") / "stats.json").read_text())
    for chapter in CHAPTERS:
        assert stats[chapter]["wall_s"] > 0
        assert stats[chapter]["peak_rss_mb"] > 0
