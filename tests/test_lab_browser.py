"""The student's JupyterLab, checked in headless Chromium: what a student sees.

Starts the server `make lab` starts (tests/browser/lab_harness.py) at the ``ci``
profile, then tests/browser/check_lab.mjs opens, in Debian's Chromium driven by
playwright-core (tests/browser/book_harness.py):

- chapter 03 as a notebook (jupytext): every markdown cell rendered by
  jupyterlab-myst, no raw MyST left (``{exercise-start}``, ``{cite:p}``,
  ``:label:``, ...), every exercise a rendered block, every citation rendered,
  every solution a collapsed dropdown;
- the student notebook of chapter 03: the exercises, their stubs and check cells,
  and no solution text; running the stub and its check prints the check's hint;
- chapter 00, run whole (Run > Run All Cells): every code cell runs, no error output;
- every other chapter: rendered, no raw MyST, every exercise a block;
- a probe notebook with a live ``course_utils.live.Choice`` (chapter 11's slider):
  moving the slider one step redraws its view in place.

Screenshots of chapter 03 and of the student notebook go to
``build/screenshots/lab/``. A missing browser, Node.js or playwright-core fails
the test (it never skips). JupyterLab's user settings live in a temporary folder:
autosave is off (the test never writes a notebook) and cells are not windowed, so
every cell is in the page.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import paths

sys.path.insert(0, str(Path(__file__).parent / "browser"))
import book_harness  # noqa: E402
import lab_harness  # noqa: E402

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "course-lab-browser-test"
CHAPTER = "notebooks/03_evaluation.md"
STUDENT = "student/03_evaluation.ipynb"
RUN_ALL = "notebooks/00_getting_started.md"
CHECK_SCRIPT = Path(__file__).parent / "browser" / "check_lab.mjs"
TEST_SETTINGS = {
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
    "@jupyterlab/notebook-extension:tracker": {"windowingMode": "none"},
}


def _labels(source: str) -> list[str]:
    return re.findall(r"^:label: (ex-[\w-]+)$", source, re.M)


def _citations(source: str) -> list[str]:
    return re.findall(r"\{cite:[pt]\}`([^`]+)`", source)


def _solution_lines(source: str) -> list[str]:
    """Prose lines (long enough to be distinctive) inside the chapter's solution blocks."""
    lines, inside = [], False
    for line in source.splitlines():
        if re.match(r"^```\{solution-start\}", line):
            inside = True
        elif re.match(r"^```\{solution-end\}", line):
            inside = False
        elif inside and len(line) > 50 and not line.startswith((":", "`", "#", " ")):
            lines.append(line.strip())
    return lines


def _choice_probe(work: Path) -> Path:
    """A notebook (under build/, git-ignored) with a live Choice, as chapter 11 uses it."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(
                    'from course_utils.live import Choice\n'
                    'choice = Choice(3, maximum=9, description="user #")\n'
                    'choice.control()\nprint("live:", choice.live)'),
                nbformat.v4.new_code_cell(
                    'def view(pos):\n    print(f"the view of user #{pos}")\n\n\n'
                    'choice.show(view)')]
    path = work / "choice_probe.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    """Open the notebooks in the lab and return check_lab.mjs's report."""
    work = paths.build_dir() / "browser" / "lab"
    shots = paths.build_dir() / "screenshots" / "lab"
    for folder in (work, shots):
        folder.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    try:
        chromium = book_harness.find_chromium()
        node = book_harness.check_node()
        package_json = book_harness.ensure_playwright(paths.build_dir() / "node")
    except book_harness.Unavailable as error:
        pytest.fail(f"the lab browser test cannot run: {error}")
    notebooks = [
        {"path": CHAPTER, "screenshot": {"exercise": str(shots / "chapter-03-exercise.png"),
                                         "citation": str(shots / "chapter-03-citation.png")}},
        {"path": STUDENT, "runCellsWith": 'check("03.ndcg"',
         "screenshot": {"exercise": str(shots / "student-03-exercise.png"),
                        "citation": str(shots / "student-03-citation.png")}},
        {"path": RUN_ALL, "runAll": True, "runTimeoutMs": 420_000},
        *({"path": f"notebooks/{p.name}"} for p in paths.chapters()
          if f"notebooks/{p.name}" not in (CHAPTER, RUN_ALL)),
        {"path": _choice_probe(work).relative_to(ROOT).as_posix(), "runAll": True,
         "moveSlider": True, "noMarkdown": True, "screenshot": {"exercise": str(shots / "choice-slider.png"),
                                            "citation": str(shots / "choice-slider.png")}},
    ]
    try:
        with lab_harness.running_lab(tmp_path_factory.mktemp("lab"), TOKEN,
                                     env={"COURSE_PROFILE": "ci"},
                                     settings=TEST_SETTINGS) as base:
            config = {"baseUrl": base, "token": TOKEN, "chromium": chromium,
                      "notebooks": notebooks}
            config_file, report_file = work / "lab-config.json", work / "lab-report.json"
            config_file.write_text(json.dumps(config, indent=2))
            report_file.unlink(missing_ok=True)
            done = subprocess.run([node, str(CHECK_SCRIPT), str(config_file), str(report_file)],
                                  capture_output=True, text=True, timeout=900,
                                  env={**os.environ,
                                       "BOOK_NODE_PACKAGE_JSON": str(package_json)})
    except lab_harness.LabDidNotStart as error:
        pytest.fail(str(error))
    if done.returncode != 0 or not report_file.exists():
        pytest.fail(f"check_lab.mjs failed (exit {done.returncode}):\n"
                    f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    found = json.loads(report_file.read_text())
    assert not found["failures"], "\n".join(found["failures"])
    return {nb["path"]: nb for nb in found["notebooks"]}


def _rendered_without_raw_myst(nb: dict) -> None:
    assert nb["markdownCells"] > 5
    assert nb["unrendered"] == 0, "every markdown cell is rendered"
    assert nb["raw"] == [], "raw MyST left in rendered cells:\n" + "\n".join(nb["raw"])
    assert nb["pageErrors"] == []


def test_a_chapter_renders_its_myst_in_the_lab(report):
    source = (ROOT / CHAPTER).read_text()
    nb = report[CHAPTER]
    _rendered_without_raw_myst(nb)
    # every exercise is a rendered exercise block, titled and with its statement
    assert [ex["id"] for ex in nb["exercises"]] == _labels(source)
    for ex in nb["exercises"]:
        assert re.match(r"(Start of )?Exercise \d+$", ex["title"]), ex
        assert len(ex["body"]) > 40, ex
    # every solution a dropdown, closed, naming its exercise
    assert len(nb["solutions"]) == source.count("```{solution-start}")
    for solution in nb["solutions"]:
        assert "Solution to Exercise" in solution["title"] and not solution["open"], solution
        assert not solution["bodyVisible"], solution
    # every citation rendered as a citation naming its key (jupyterlab-myst 2.7.0 cannot
    # read the book's bibliography: it shows the key; see notebooks/CONVENTIONS.md)
    keys = _citations(source)
    assert len(keys) >= 4
    assert [c["text"] for c in nb["citations"]] == keys
    # display equations typeset with the thesis's numbers; cross-references resolve
    tags = re.findall(r"\\tag\{([\d.]+)\}", source)
    assert len(tags) >= 2 and [e for e in nb["equations"] if e] == [f"({tag})" for tag in tags]
    refs = re.findall(r"\{ref\}`(ex-[\w-]+)`", source)
    assert refs and [r["target"] for r in nb["crossRefs"]] == refs
    for ref in nb["crossRefs"]:
        assert ref["resolves"] and re.match(r"Exercise\s\d+$", ref["text"]), ref


def test_a_student_notebook_shows_exercises_and_no_solutions(report):
    chapter = (ROOT / CHAPTER).read_text()
    nb = report[STUDENT]
    _rendered_without_raw_myst(nb)
    assert [ex["id"] for ex in nb["exercises"]] == _labels(chapter)
    assert nb["solutions"] == [], "no solution dropdown in a student notebook"
    hidden = _solution_lines(chapter)
    assert len(hidden) >= 3
    shown = [line for line in hidden if line in nb["text"]]
    assert shown == [], f"solution text visible to a student: {shown}"
    assert "raise NotImplementedError  # your code here" in nb["text"]
    assert nb["text"].count('check("03.') == chapter.count('check("03.')
    # the stub, run with its check, gets the check's hint, not a traceback
    assert nb["errors"] == []
    assert "NotImplementedError" in nb["ranOutputs"][0]
    assert "replace the line" in nb["ranOutputs"][0]


def test_run_all_on_a_chapter_at_the_ci_profile_has_no_error_output(report):
    nb = report[RUN_ALL]
    assert nb["codeCells"] > 5
    assert nb["executed"] == nb["codeCells"], "every code cell ran"
    assert nb["errors"] == [], "\n".join(nb["errors"])
    assert "profile 'ci'" in nb["text"]


def test_a_live_choice_redraws_its_view_in_place_in_the_lab(report):
    """What chapter 11's user slider does, on a probe notebook: one step right, one redraw."""
    nb = next(nb for path, nb in report.items() if path.endswith("choice_probe.ipynb"))
    assert nb["errors"] == [] and nb["executed"] == nb["codeCells"] == 2
    before, after = nb["ranOutputs"]
    assert "live: True" in before and "the view of user #3" in before
    assert "the view of user #4" in after and "the view of user #3" not in after
    assert after.count("the view of user") == 1, "redrawn in place, not appended"


def test_every_chapter_renders_without_raw_myst_in_the_lab(report):
    for chapter in paths.chapters():
        nb = report[f"notebooks/{chapter.name}"]
        _rendered_without_raw_myst(nb)
        assert [ex["id"] for ex in nb["exercises"]] == _labels(chapter.read_text()), chapter.name
        assert all(not solution["open"] for solution in nb["solutions"]), chapter.name


def test_the_lab_screenshots_are_kept(report):
    shots = paths.build_dir() / "screenshots" / "lab"
    for name in ("chapter-03-exercise", "chapter-03-citation", "student-03-exercise"):
        assert (shots / f"{name}.png").stat().st_size > 10_000, name
