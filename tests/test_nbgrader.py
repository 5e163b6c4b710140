"""nbgrader for instructors: ``course student --format nbgrader`` and a real nbgrader round trip.

The round trip exports two cheap chapters, runs ``nbgrader generate_assignment``,
puts a right and a wrong submission of each chapter under ``submitted/``, runs
``nbgrader autograde``, and compares the scores in nbgrader's gradebook with the
scores ``course grade`` gives the same submitted notebooks.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from course_tools.cli import main
from course_tools.grading import nbgrader_export as export
from course_tools.grading.grade import grade
from course_tools.grading.student import STUB, cut_solution, student_notebook
from course_utils import paths
from course_utils.exercises import registry

CHAPTERS = ("01_dataset", "03_evaluation")  # two of the cheapest chapters at the ci profile
BIN = Path(sys.executable).parent  # nbgrader's commands (and the alembic it calls) are here


def _chapter(name: str) -> Path:
    return paths.notebooks_dir() / f"{name}.md"


def _nbgrader(course: Path, *args: str) -> subprocess.Popen:
    """Start ``nbgrader ARGS`` in the course folder (wait with :func:`_finish`)."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
               COURSE_PROFILE="ci")
    return subprocess.Popen([str(BIN / "nbgrader"), *args], cwd=course, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _finish(proc: subprocess.Popen) -> None:
    try:
        log, _ = proc.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        proc.kill()
        log, _ = proc.communicate()
    assert proc.returncode == 0, f"{' '.join(proc.args[1:])} failed:\n{log}"


def _answer_cells(nb) -> list:
    return [c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]


# --- the export ----------------------------------------------------------------------

def test_solution_region_becomes_the_course_stub():
    source = "def f(x):\n    y = x + 1\n    # solution\n    return 2 * y\n"
    marked = export.solution_region(source)
    assert marked == ("def f(x):\n    y = x + 1\n    ### BEGIN SOLUTION\n    return 2 * y\n"
                      "    ### END SOLUTION")
    # what nbgrader's ClearSolutions does with the course's stub is the course's cut
    lines = marked.split("\n")
    begin, end = lines.index("    ### BEGIN SOLUTION"), lines.index("    ### END SOLUTION")
    assert "\n".join(lines[:begin] + ["    " + STUB] + lines[end + 1:]) == cut_solution(source)
    assert export.solution_region("x = 1") == "x = 1"


def test_every_cell_has_its_nbgrader_role():
    nb = export.nbgrader_notebook(_chapter("03_evaluation"))
    plain = student_notebook(_chapter("03_evaluation"))
    roles = {}
    for cell in nb.cells:
        meta = cell.metadata["nbgrader"]
        role = ("answer" if meta["solution"] else "test" if meta["grade"] else
                "read-only" if meta["locked"] else "free")
        roles.setdefault(role, []).append(cell)
    assert set(roles) == {"answer", "test", "read-only"}
    assert [c.id for c in roles["answer"]] == [c.id for c in plain.cells if STUB in c.source]
    tests = {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"]
             for c in roles["test"]}
    assert tests == {"check-03_ndcg": registry.get("03.ndcg").points}
    assert "nbgrader_check('03.ndcg', my_ndcg)" in roles["test"][0].source
    # the ids of the course's student notebook are kept, so `course grade` matches answers
    assert {c.id for c in plain.cells} <= {c.id for c in nb.cells}


def test_nbgrader_check_raises_on_a_wrong_answer_and_prints_the_hint(capsys):
    with pytest.raises(export.CheckNotPassed, match="00.sparsity"):
        export.nbgrader_check("00.sparsity", lambda matrix: 0.0)
    assert "Hint:" in capsys.readouterr().out
    export.nbgrader_check("00.sparsity", lambda matrix: float((np.asarray(matrix) == 0).mean()))
    assert "correct" in capsys.readouterr().out
    with pytest.raises(export.CheckNotPassed):  # the checker's own solution is not an answer
        export.nbgrader_check("00.sparsity", registry.get("00.sparsity").right[0])
    assert "code of the course, not yours" in capsys.readouterr().out


def test_unknown_chapter_is_a_clear_error(tmp_path, capsys):
    assert main(["student", "99", "--format", "nbgrader", "--out", str(tmp_path / "c")]) == 2
    assert "99" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_a_folder_that_is_not_empty_is_a_clear_error_and_stays_as_it_was(tmp_path, capsys):
    course = tmp_path / "course"
    course.mkdir()
    (course / "gradebook.db").write_text("an instructor's grades")
    assert main(["student", "00", "--format", "nbgrader", "--out", str(course)]) == 2
    err = capsys.readouterr().err
    assert f"{course} is not empty" in err and "--out" in err
    assert [p.name for p in course.iterdir()] == ["gradebook.db"]
    assert (course / "gradebook.db").read_text() == "an instructor's grades"
    assert [p.name for p in tmp_path.iterdir()] == ["course"]  # no half-written folder left
    with pytest.raises(export.NbgraderExportError, match="not empty"):
        export.write_course(course, [_chapter("00_getting_started")])


# --- the round trip with real nbgrader -----------------------------------------------

def _fill(release: Path, target: Path, answer: str | None) -> None:
    """Copy the released notebook to ``target`` with its answer cell set to ``answer``."""
    nb = nbformat.read(release, as_version=4)
    (cell,) = _answer_cells(nb)
    if answer is not None:
        cell.source = answer
    target.parent.mkdir(parents=True)
    nbformat.write(nb, target)


def _solution(source_nb: Path) -> str:
    """The instructor's answer: the source cell without nbgrader's region marks."""
    (cell,) = _answer_cells(nbformat.read(source_nb, as_version=4))
    return "\n".join(l for l in cell.source.split("\n")
                     if l.strip() not in (export.BEGIN, export.END))


@pytest.mark.notebooks
def test_nbgrader_and_course_grade_give_the_same_scores(tmp_path):
    course = tmp_path / "course"
    assert main(["student", *CHAPTERS, "--format", "nbgrader", "--out", str(course)]) == 0
    _finish(_nbgrader(course, "generate_assignment", "*"))  # every chapter in source/
    release = {name: course / "release" / name / f"{name}.ipynb" for name in CHAPTERS}
    for name, path in release.items():  # the release is the course's student notebook...
        released = {c.id: c.source for c in nbformat.read(path, as_version=4).cells}
        plain = {c.id: c.source for c in student_notebook(_chapter(name)).cells}
        differ = {i: released.get(i) for i, s in plain.items() if released.get(i) != s}
        # ...but for its check cell, where the test calls nbgrader_check instead of check
        assert list(differ) == [i for i, s in plain.items() if "check(" in s]
        assert all("nbgrader_check(" in s for s in differ.values()), differ

    right = {name: _solution(course / "source" / name / f"{name}.ipynb") for name in CHAPTERS}
    wrong_ndcg = right["03_evaluation"].replace("return dcg / ideal if ideal > 0 else 0.0",
                                                "return dcg")  # forgets to normalise
    assert wrong_ndcg != right["03_evaluation"]
    work = {  # student → chapter → answer (None: the stub is left as released)
        "alice": {"01_dataset": right["01_dataset"], "03_evaluation": wrong_ndcg},
        "bob": {"01_dataset": None, "03_evaluation": right["03_evaluation"]},
    }
    submitted = course / "submitted"
    for student, answers in work.items():
        for name, answer in answers.items():
            _fill(release[name], submitted / student / name / f"{name}.ipynb", answer)

    # nbgrader autograde and course grade run at the same time (neither writes submitted/)
    autograde = _nbgrader(course, "autograde", "*")
    try:
        book = grade(submitted, tmp_path / "grades.csv", jobs=2, profile="ci",
                     assignments=[_chapter(name) for name in CHAPTERS], echo=lambda s: None)
    finally:
        _finish(autograde)
    from nbgrader.api import Gradebook

    keys = {"01_dataset": "01.latest_entry", "03_evaluation": "03.ndcg"}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        found = {(student, keys[name]): gb.find_grade(export.grade_id(keys[name]), name, name,
                                                      student)
                 for student in work for name in CHAPTERS}
        theirs = {k: g.score for k, g in found.items()}
        out_of = {k[1]: g.max_score for k, g in found.items()}
    ours = {(s.student, key): s.scores[key] for s in book.students for key in keys.values()}

    assert theirs == ours
    assert ours == {("alice", "01.latest_entry"): 1.0, ("alice", "03.ndcg"): 0.0,
                    ("bob", "01.latest_entry"): 0.0, ("bob", "03.ndcg"): 1.0}
    # the same points scale: nbgrader's test cells carry the checkers' points
    assert out_of == {k: book.points[k] for k in keys.values()} == \
        {k: registry.get(k).points for k in keys.values()}
