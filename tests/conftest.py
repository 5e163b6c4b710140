"""Shared fixtures: chapter results executed at the ``ci`` profile."""
from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("COURSE_PROFILE", "ci")

from course_utils import paths  # noqa: E402
from course_tools.runner import resolve_chapters, results_path, run_chapter  # noqa: E402

PROFILE = "ci"


def executed_run(chapter: str) -> dict:
    """The ci-profile run of ``chapter``, executing it when stale or missing.

    ``make notebooks`` executes every chapter first, so this normally just reads
    ``build/executed/ci/stats.json``; run alone, a test executes what it needs.
    """
    source = resolve_chapters([chapter])[0]
    stats_file = paths.executed_dir(PROFILE) / "stats.json"
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    run = stats.get(source.stem)
    output = paths.executed_dir(PROFILE) / f"{source.stem}.ipynb"
    fresh = (run is not None and output.exists()
             and output.stat().st_mtime >= source.stat().st_mtime)
    if not fresh:
        run = run_chapter(source, PROFILE).__dict__
    return run


@pytest.fixture
def chapter_results():
    """``chapter_results("03_evaluation")`` → the numbers the chapter recorded."""

    def load(chapter: str) -> dict:
        run = executed_run(chapter)
        assert run["status"] == "ok", run["error"]
        return json.loads(results_path(run["chapter"], PROFILE).read_text())

    return load


# --------------------------------------------------------------------------
# test lanes: unit (default), integration, notebooks (chapters), book
# --------------------------------------------------------------------------
# Whole files in the integration lane: they start Spark, a JupyterLab server or
# nbgrader, or train Keras networks. A test elsewhere joins the lane with
# @pytest.mark.integration, or by using a fixture that starts Spark.
INTEGRATION_FILES = {
    "test_spark.py", "test_lab.py", "test_nn.py", "test_sequence_models.py",
    "test_beyond.py", "test_sequence_cells.py", "test_exercises_grade.py",
}
SPARK_FIXTURES = {"spark", "cluster"}
# docstring examples of these modules train Keras networks
KERAS_MODULES = ("course_utils.nn.network", "course_utils.sequence.models",
                 "course_utils.sequence.attention", "course_utils.sequence.context")
# seconds before pytest-timeout fails a test of the lane (a hung JVM fails, not hangs)
LANE_TIMEOUTS = {"unit": 120, "integration": 900}
LANES = ("notebooks", "book", "integration")


def pytest_collection_modifyitems(config, items):
    """Give every test exactly one lane; an unmarked test (e.g. in a new file) is ``unit``."""
    for item in items:
        marks = {m.name for m in item.iter_markers()}
        if "spark" in marks or SPARK_FIXTURES & set(getattr(item, "fixturenames", ())):
            marks.add("integration")
            item.add_marker(pytest.mark.integration)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if str(params.get("name", "")).startswith(KERAS_MODULES):
            marks.add("integration")
            item.add_marker(pytest.mark.integration)
        if item.path.name in INTEGRATION_FILES and not marks & {"notebooks", "book"}:
            marks.add("integration")
            item.add_marker(pytest.mark.integration)
        lane = next((m for m in LANES if m in marks), "unit")
        if lane == "unit":
            item.add_marker(pytest.mark.unit)
        if lane in LANE_TIMEOUTS and "timeout" not in marks:
            item.add_marker(pytest.mark.timeout(LANE_TIMEOUTS[lane]))
