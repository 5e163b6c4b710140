"""Grading as an instructor would: fixture submissions in, gradebook and feedback out.

The fixtures (tests/fixtures/exercises/submissions, made from the demo chapter's
student notebook by make_submissions.py) hold right and wrong answers, a notebook
that raises, one that never ends, one that writes outside its folder and deletes
files, one that is not a notebook at all, and seven attacks on the grade, each of
which must score zero for the exercise it attacks.
"""
from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import io
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jupytext
import nbformat
import pytest

from course_utils import paths
from course_tools.cli import main
from course_tools.grading import answers
from course_tools.grading.student import STUB, check_keys
from course_tools.grading.grade import (GradingError, _choose, _course_assignments,
                                          _file_changes, find_submissions, folder_digest, grade,
                                          load_assignment)

FIXTURES = Path(__file__).parent / "fixtures" / "exercises"
SUBMISSIONS = FIXTURES / "submissions"
CHECKS = FIXTURES / "demo_checks.py"
DEMO = FIXTURES / "chapter" / "90_demo.md"
ATTACKS = {"mallory", "oscar", "peggy", "grace", "trudy", "victor", "walter"}
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
                     "frank": ["assignment.ipynb"],
                     **{name: [f"{name}.ipynb"] for name in ATTACKS}}  # README.md is skipped


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
                 checks=[CHECKS], assignments=[DEMO], echo=lines.append)
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
        # attacks: zero for the exercise attacked, the other two answers are right
        "mallory": ["0", "1", "1", "2"],  # appends a passing record to the results file
        "oscar": ["1", "0", "1", "2"],    # replaces check and evaluate by always-pass
        "peggy": ["1", "1", "0", "2"],    # a wrong hits, its check cell edited to pass
        "grace": ["1", "0", "1", "2"],    # the library's own top_k
        "trudy": ["1", "1", "0", "2"],    # hits from the checker's own solution
        "victor": ["0", "1", "1", "2"],   # makes np.isclose always true in its answer cell
        "walter": ["0", "1", "1", "2"],   # the same through an alias, inside the function
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


@pytest.mark.notebooks
def test_attacks_are_named_in_the_notes_and_feedback(graded):
    notes = {r["student"]: r["notes"]
             for r in csv.DictReader(io.StringIO(graded["out"].read_text()))}
    assert "90.top_k: the answer cell `def top_k(scores, k):` was not graded: it imports " \
           "course_utils.recommend" in notes["grace"]
    assert "90.hits: the answer cell `def hits(recommended, relevant):` was not graded: it " \
           "imports course_utils.exercises" in notes["trudy"]
    assert "90.mean_rating: the answer cell `def mean_rating(ratings):` was not graded: it " \
           "changes the module np (numpy)" in notes["victor"]
    feedback = graded["feedback"]
    walter = (feedback / "walter.md").read_text()
    assert "| 90.mean_rating | rejected | 0 / 1 |" in walter
    assert "the answer changed numpy.isclose" in walter
    # the forged record and the always-pass check never ran where points are decided
    assert "| 90.mean_rating | not done | 0 / 1 |" in (feedback / "mallory.md").read_text()
    assert "| 90.top_k | not done | 0 / 1 |" in (feedback / "oscar.md").read_text()
    peggy = (feedback / "peggy.md").read_text()
    assert "| 90.hits | wrong | 0 / 1 |" in peggy and "returned 4, the number of" in peggy
    # what decided the points is kept for the instructor: the graded notebook
    graded_nb = feedback / "graded" / "oscar" / "oscar.ipynb"
    sources = [c["source"] for c in json.loads(graded_nb.read_text())["cells"]]
    assert not any("always_pass" in src for src in sources)


def test_screen_refuses_what_is_not_the_students_own_code():
    context = answers.bound_imports(["import numpy as np\nfrom course_utils import metrics",
                                     "from course_utils.exercises import check"])
    refused = {
        "import course_utils.metrics as m": "imports course_utils.metrics",
        "from demo_checks import _top_k": "imports demo_checks",
        "def f(r, k):\n    return metrics.ndcg_at_k([r], [{1}], k)": "uses metrics, which is "
                                                                    "course_utils.metrics",
        "check = print": "",  # rebinding a name is the cell's own business...
        "def f(x):\n    return check('90.hits', x)": "uses check",
        "import os\ndef f(x):\n    return os.getpid()": "imports os",
        "def f(x):\n    return f.__globals__": "uses .__globals__",
        "def f(x):\n    return getattr(x, '__glob' + 'als__')": "computed or special attribute",
        "def f(x):\n    np.isclose = lambda *a, **k: True": "changes the module np",
        "np.random.seed = None": "changes the module np",
        "x = eval('1')": "uses eval",
        "!ls": "uses get_ipython",
        "%run other.py": "uses get_ipython",
    }
    for source, phrase in refused.items():
        problems = answers.screen(source, context, check_modules=["demo_checks"])
        if phrase:
            assert any(phrase in p for p in problems), (source, problems)
        else:
            assert problems == [], (source, problems)
    allowed = ["def f(ratings):\n    ratings = np.asarray(ratings)\n    ratings[ratings < 0] = 0\n"
               "    return float(ratings.mean())",
               "import math\nfrom collections import Counter\n\ndef f(xs):\n    return math.fsum(xs)",
               "def f(metrics):\n    return metrics['rmse']",  # its own name, not the module
               "def f(x) -> int:\n    return getattr(x, 'shape')[0]",
               "def broken(:\n    pass"]  # a syntax error is the cell's own failure
    for source in allowed:
        assert answers.screen(source, context) == [], source


def test_provenance_refuses_course_code():
    from course_utils import metrics
    from course_utils.exercises import ch03

    assert "course_utils.metrics.ndcg_at_k" in answers.provenance(metrics.ndcg_at_k)
    assert "course_utils.exercises.ch03._ndcg" in answers.provenance(ch03._ndcg)
    assert answers.provenance(functools.partial(ch03._ndcg, k=3)) is not None
    assert answers.provenance(lambda recommended, relevant, k: 0.0) is None
    assert answers.provenance(3.5) is None


@pytest.mark.parametrize("chapter", paths.chapters(), ids=lambda p: p.stem)
def test_each_chapters_own_solutions_are_graded_and_pass_the_screen(chapter):
    """The grading notebook of a chapter, with the chapter's solutions as the submission:
    every check key gets the grader's cell, and no solution is refused by the screen."""
    assignment = load_assignment(chapter)
    nb, notes = answers.grading_notebook(assignment.nb, jupytext.read(chapter))
    graded = [k for c in nb.cells for k in c.metadata.get(answers.GRADER_META, {}).get("keys", [])]
    assert graded == check_keys(chapter) and graded, "every check cell becomes the grader's"
    assert all(t == [] for t in notes.values()), notes
    assert not any(STUB in c.source for c in nb.cells), "an answer cell was not found"


def test_each_submission_is_graded_in_its_own_assignment():
    subs = find_submissions(SUBMISSIONS)
    course = _course_assignments(subs)
    assert course == []  # the demo keys belong to no chapter: --assignment is needed
    chapters = [load_assignment(paths.notebooks_dir() / "00_getting_started.md"),
                load_assignment(DEMO)]
    alice = nbformat.read(SUBMISSIONS / "alice.ipynb", as_version=4)
    assert _choose(chapters, alice).name == "90_demo.md"
    assert _choose(chapters[:1], alice) is None
    student_00 = nbformat.read(paths.repo_root() / "student" / "00_getting_started.ipynb",
                               as_version=4)
    assert _choose(chapters, student_00).name == "00_getting_started.md"


@pytest.mark.notebooks
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_an_interrupt_ends_every_process_and_writes_the_graded(tmp_path, signame):
    """Ctrl-C or SIGTERM during the never-ending fixture: `course grade` stops within seconds,
    no process it started is left, and the gradebook holds the student graded before."""
    psutil = pytest.importorskip("psutil")
    subs = tmp_path / "submissions"
    subs.mkdir()
    for name in ("alice", "erin"):
        shutil.copy(SUBMISSIONS / f"{name}.ipynb", subs)
    out = tmp_path / "grades.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "course_tools.cli", "grade", str(subs), "--out", str(out),
         "--checks", str(CHECKS), "--assignment", str(DEMO), "--timeout", "300"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=paths.repo_root())
    grader, seen = psutil.Process(proc.pid), {}
    erin = hashlib.sha1(b"erin/erin.ipynb").hexdigest()[:10]  # in her runner's file names

    def look() -> None:
        for child in grader.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                seen[child.pid] = (child, " ".join(child.cmdline()))

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # until erin's grading kernel has started
        look()
        if any(f"{erin}.grading.ipynb" in cmd and any("ipykernel" in _cmdline(k, psutil)
                                                       for k in _children(c, psutil))
               for c, cmd in seen.values()):
            break
        time.sleep(0.2)
    else:
        look()
        for child, _ in [*seen.values(), (grader, "")]:  # leave nothing behind
            with contextlib.suppress(psutil.Error):
                child.kill()
        pytest.fail("erin's kernel never started")
    time.sleep(5)  # it runs the setup cells, then loops for ever in her top_k
    look()
    started = time.monotonic()
    proc.send_signal(getattr(signal, signame))
    output, _ = proc.communicate(timeout=60)
    assert time.monotonic() - started < 15, output
    assert proc.returncode == 128 + getattr(signal, signame), output
    assert any("ipykernel" in cmd for _, cmd in seen.values()), seen
    left = [cmd for p, cmd in seen.values()
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert left == [], left
    assert f"interrupted by {signame}: graded 1 student(s); not graded: erin" in output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [(r["student"], r["total"]) for r in rows] == [("alice", "3")]


def _children(process, psutil) -> list:
    try:
        return process.children()
    except psutil.Error:
        return []


def _cmdline(process, psutil) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""
