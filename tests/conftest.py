"""Shared fixtures: chapter results executed at the ``ci`` profile."""
from __future__ import annotations

import json
import os

import pytest

os.environ.setdefault("COURSE_PROFILE", "ci")

from course_utils import paths  # noqa: E402
from course_utils.runner import resolve_chapters, results_path, run_chapter  # noqa: E402

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
