"""Grading as an instructor would: fixture submissions in, gradebook and feedback out.

The fixtures (tests/fixtures/exercises/submissions, made from the demo chapter's
student notebook by make_submissions.py) hold right and wrong answers, a notebook
that raises, one that never ends, one that writes outside its folder and deletes
files, and one that is not a notebook at all.
"""
from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import pytest

from course_utils import paths
from course_utils.cli import main
from course_utils.exercises.grade import (GradingError, _file_changes, find_submissions,
                                          folder_digest, grade)

FIXTURES = Path(__file__).parent / "fixtures" / "exercises"
SUBMISSIONS = FIXTURES / "submissions"
CHECKS = FIXTURES / "demo_checks.py"
NOTEBOOK_TIMEOUT = 30  # erin never ends: this limit stops her notebook
CELL_TIMEOUT = 2  # carol's loop is interrupted after this, and her notebook goes on


def _repo_digest() -> str:
    """The files a grading run could reach: they must be left as they were.

    (Only these folders, so that edits made elsewhere in a working copy while
    the test runs do not fail it.)
    """
    digest = hashlib.sha256()
    root = paths.repo_root()
    for folder in ("course_utils/exercises", "student", "tests/fixtures/exercises"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_find_submissions_files_and_folders():
    found = {s.student: [n.name for n in s.notebooks] for s in find_submissions(SUBMISSIONS)}
    assert found == {"alice": ["alice.ipynb"], "bob": ["bob.md"], "broken": ["broken.ipynb"],
                     "carol": ["carol.ipynb"], "erin": ["erin.ipynb"],
                     "frank": ["assignment.ipynb"]}  # README.md is not a notebook


def test_file_changes_are_described_from_the_notebook_folder():
    own = "work/submission"
    before = {"home": ("dir", 0, 1), own: ("dir", 0, 1), f"{own}/a.txt": ("file", 3, 1),
              f"{own}/nb.ipynb": ("file", 9, 1)}
    after = {"home": ("dir", 0, 2), "home/x": ("file", 1, 2), "work/y": ("file", 1, 2),
             own: ("dir", 0, 2), f"{own}/nb.ipynb": ("file", 12, 2), f"{own}/new.csv": ("file", 1, 2)}
    assert _file_changes(before, after, own) == [
        "wrote outside its folder: ~/x, ../y", "deleted files of its folder: a.txt"]


def test_bad_folders_are_clear_errors(tmp_path, capsys):
    with pytest.raises(GradingError, match="does not exist"):
        find_submissions(tmp_path / "nowhere")
    assert main(["grade", str(tmp_path / "nowhere"), "--out", str(tmp_path / "g.csv")]) == 2
    (tmp_path / "subs").mkdir()
    with pytest.raises(GradingError, match="inside the submissions folder"):
        grade(tmp_path / "subs", tmp_path / "subs" / "grades.csv", echo=lambda s: None)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("grading") / "grades.csv"
    home_escape = Path.home() / "escaped.txt"
    existed = home_escape.exists()
    before = folder_digest(SUBMISSIONS), _repo_digest()
    lines: list[str] = []
    book = grade(SUBMISSIONS, out, timeout=NOTEBOOK_TIMEOUT, cell_timeout=CELL_TIMEOUT, jobs=2,
                 checks=[CHECKS], echo=lines.append)
    after = folder_digest(SUBMISSIONS), _repo_digest()
    return {"book": book, "out": out, "before": before, "after": after, "lines": lines,
            "home_escape": home_escape.exists() and not existed,
            "feedback": out.with_name("grades_feedback")}


@pytest.mark.notebooks
def test_gradebook_has_one_row_per_student_and_one_column_per_exercise(graded):
    rows = list(csv.DictReader(io.StringIO(graded["out"].read_text())))
    assert list(rows[0]) == ["student", "90.mean_rating", "90.top_k", "90.hits",
                             "total", "out_of", "notes"]
    scores = {r["student"]: [r["90.mean_rating"], r["90.top_k"], r["90.hits"], r["total"]]
              for r in rows}
    assert scores == {
        "alice": ["1", "1", "1", "3"],   # all right
        "bob": ["0", "0", "1", "1"],     # two typical mistakes
        "broken": ["0", "0", "0", "0"],  # not a notebook
        "carol": ["0", "1", "0", "1"],   # undone, a raising cell, a loop, one mistake
        "erin": ["1", "0", "0", "1"],    # never ends: what ran before the limit counts
        "frank": ["1", "1", "1", "3"],   # misbehaves, but its answers are right
    }
    assert {r["out_of"] for r in rows} == {"3"}


@pytest.mark.notebooks
def test_each_problem_gets_a_note(graded):
    notes = {r["student"]: r["notes"]
             for r in csv.DictReader(io.StringIO(graded["out"].read_text()))}
    assert notes["alice"] == "" and notes["bob"] == ""
    assert "could not read the notebook" in notes["broken"]
    assert "2 cell(s) raised an error" in notes["carol"]
    assert f"time limit of {NOTEBOOK_TIMEOUT} s" in notes["erin"]
    assert "not reached: 90.top_k, 90.hits" in notes["erin"]
    assert "wrote outside its folder: ~/escaped.txt, ../escaped.txt" in notes["frank"]
    assert "deleted files of its folder: assignment.ipynb, notes.txt" in notes["frank"]
    assert "could not run to its end" in notes["frank"]  # its kernel died at the end


@pytest.mark.notebooks
def test_feedback_files_give_the_hints(graded):
    feedback = graded["feedback"]
    bob = (feedback / "bob.md").read_text()
    assert "Score: **1 / 3**" in bob
    assert "0 means missing: average only the ratings above 0" in bob
    assert "sort by decreasing score" in bob
    carol = (feedback / "carol.md").read_text()
    assert "not done yet" in carol and "NotImplementedError" in carol
    assert "raised ValueError" in carol
    assert f"interrupted: it ran past the cell time limit of {CELL_TIMEOUT} s" in carol
    assert "the number of recommendations" in carol
    erin = (feedback / "erin.md").read_text()
    assert "This check never ran" in erin and "still running" in erin
    assert (feedback / "executed" / "alice" / "alice.ipynb").exists()


@pytest.mark.notebooks
def test_instructor_files_are_never_touched(graded):
    assert graded["after"][0] == graded["before"][0], "the submissions folder changed"
    assert graded["after"][1] == graded["before"][1], "the course's files changed"
    assert not graded["home_escape"], "a notebook wrote into the real home folder"
    assert not (SUBMISSIONS.parent / "escaped.txt").exists()
    assert any("erin" in line and "time limit" in line for line in graded["lines"])


@pytest.mark.notebooks
def test_real_chapter_untouched_scores_zero_and_solutions_score_full(tmp_path):
    """Chapter 00 as an instructor gets it: the untouched student notebook runs to its
    end with every check "not done", and the chapter's own solutions get full marks."""
    import shutil

    subs = tmp_path / "submissions"
    subs.mkdir()
    student_nb = paths.repo_root() / "student" / "00_getting_started.ipynb"
    shutil.copy(student_nb, subs / "untouched.ipynb")
    shutil.copy(paths.notebooks_dir() / "00_getting_started.md", subs / "solutions.md")
    book = grade(subs, tmp_path / "grades.csv", timeout=300, jobs=2,
                 assignments=[student_nb], echo=lambda s: None)
    assert book.keys == ["00.sparsity"]
    rows = {s.student: s for s in book.students}
    assert rows["solutions"].total == book.out_of
    assert rows["untouched"].total == 0
    assert rows["untouched"].results["00.sparsity"]["status"] == "not done"
    assert all(r.status != "crashed" for s in book.students for r in s.runs)
