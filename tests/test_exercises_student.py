"""Student notebooks: solutions removed, stubs in place, everything else identical, never stale."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from course_utils import paths
from course_tools.grading import student
from course_tools.grading.student import STUB, cut_solution, outline, student_notebook

FIXTURES = Path(__file__).parent / "fixtures" / "exercises"
DEMO = FIXTURES / "chapter" / "90_demo.md"
CHAPTERS = paths.chapters()


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_cut_keeps_what_is_above_and_the_indentation():
    source = "def f(x):\n    y = x + 1\n    # solution\n    return 2 * y\n"
    assert cut_solution(source) == f"def f(x):\n    y = x + 1\n    {STUB}"
    assert cut_solution("# solution\nanswer = 42") == STUB
    assert cut_solution("x = 1  # solution is below\ny = 2") == "x = 1  # solution is below\ny = 2"


def test_demo_chapter_student_version():
    source = jupytext.read(DEMO)
    nb = student_notebook(DEMO)
    text = student.render(nb, "md")
    # solutions are gone: blocks, tagged cells, the non-gated directive, the cut lines
    for gone in ("solution-start", "solution-end", "{solution}", "Intersect the two sets",
                 "print(mean_rating", "ratings[ratings > 0]", "argsort(-np.asarray",
                 "len(set(recommended)", "Compare with a baseline", "# solution"):
        assert gone not in text, gone
    # every exercise and check is still there
    for kept in ("ex-90-zeros", "ex-90-mean", "ex-90-top-k", "ex-90-hits", "ex-90-interpret",
                 'check("90.mean_rating", mean_rating)', "A model gets 2 hits"):
        assert kept in text, kept
    # code cells: the same, minus solution cells, cut cells stubbed
    expected = [cut_solution(c.source) for c in _code(source)
                if "solution" not in c.metadata.get("tags", [])]
    assert [c.source for c in _code(nb)] == expected
    assert sum(STUB in c.source for c in _code(nb)) == 3
    assert [c.metadata for c in _code(nb)] == [c.metadata for c in _code(source)
                                               if "solution" not in c.metadata.get("tags", [])]


def test_markdown_outside_solutions_is_unchanged():
    source_md = "\n".join(c.source for c in jupytext.read(DEMO).cells if c.cell_type == "markdown")
    student_md = "\n".join(c.source for c in student_notebook(DEMO).cells
                           if c.cell_type == "markdown")
    kept = [line for line in student_md.split("\n") if line.strip()]
    source_lines = [line for line in source_md.split("\n") if line.strip()]
    position = 0
    for line in kept:  # every student line appears in the source, in the same order
        position = source_lines.index(line, position) + 1


def test_generation_is_deterministic_in_both_formats():
    first = {fmt: student.render(student_notebook(DEMO), fmt) for fmt in student.FORMATS}
    second = {fmt: student.render(student_notebook(DEMO), fmt) for fmt in student.FORMATS}
    assert first == second
    nb = nbformat.reads(first["ipynb"], as_version=4)
    nbformat.validate(nb)
    assert all(not c.get("outputs") for c in nb.cells)
    assert nb.metadata["course"]["generated_by"] == "course student"
    # the MyST version opens as the same notebook
    again = jupytext.reads(first["md"], fmt="md:myst")
    assert [c.source for c in again.cells] == [c.source for c in nb.cells]


def test_an_unclosed_solution_block_is_a_clear_error(tmp_path):
    bad = tmp_path / "91_bad.md"
    bad.write_text(DEMO.read_text().replace("```{solution-end}\n```\n\n```{exercise-start}\n"
                                            ":label: ex-90-mean", "```{exercise-start}\n"
                                            ":label: ex-90-mean", 1))
    with pytest.raises(ValueError, match="91_bad.md.*exercise-start.*never closed"):
        student_notebook(bad)
    text = DEMO.read_text()
    end = text.rindex("```{solution-end}")
    bad.write_text(text[:end] + text[end:].replace("```{solution-end}\n```", "", 1))
    with pytest.raises(ValueError, match="91_bad.md.*never closed"):
        student_notebook(bad)


def test_demo_chapter_format_is_clean():
    exercises, problems = outline(DEMO)
    assert problems == []
    assert [e.label for e in exercises] == ["ex-90-zeros", "ex-90-mean", "ex-90-top-k",
                                            "ex-90-hits", "ex-90-interpret"]
    assert [e.checks for e in exercises] == [[], ["90.mean_rating"], ["90.top_k"], ["90.hits"], []]


def test_format_problems_are_found(tmp_path):
    bad = tmp_path / "91_bad.md"
    text = DEMO.read_text().replace(":tags: [hide-input]\n\ndef top_k", "def top_k")
    text = text.replace("```{solution-start} ex-90-hits\n:class: dropdown\n",
                        "```{solution-start} ex-90-hitz\n")
    bad.write_text(text)
    _, problems = outline(bad)
    joined = "\n".join(problems)
    assert "needs ':tags: [hide-input]'" in joined
    assert "'ex-90-hitz', which is not the label" in joined
    assert "exercise 'ex-90-hits' has no solution block" in joined
    assert "label 'ex-90-zeros' should start with 'ex-91-'" in joined


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_student_version_has_no_solution(chapter):
    source = jupytext.read(chapter)
    nb = student_notebook(chapter)
    text = student.render(nb, "md")
    assert "{solution" not in text and "# solution\n" not in text
    assert not any("solution" in c.metadata.get("tags", []) for c in nb.cells)
    cut = sum(student.has_cut(c.source) for c in _code(source))
    assert sum(STUB in c.source for c in _code(nb)) == cut


def test_committed_student_notebooks_are_up_to_date():
    """CI fails when a chapter changed and `make student` was not run."""
    problems = student.stale(student.generate())
    assert problems == [], ("\n".join(problems)
                            + "\nrun `make student` (or `course student`) and commit student/")


def test_course_student_check_command(tmp_path, capsys):
    from course_tools.cli import main

    out = tmp_path / "student"
    argv = ["student", "00", "--out", str(out)]
    assert main(argv) == 0
    assert (out / "00_getting_started.ipynb").exists()
    assert main(argv + ["--check"]) == 0
    (out / "00_getting_started.ipynb").write_text("{}")
    capsys.readouterr()
    assert main(argv + ["--check"]) == 1
    assert "00_getting_started.ipynb is stale" in capsys.readouterr().err


def test_fixture_submissions_match_their_generator():
    """The graded fixtures are the demo chapter's student notebook, filled in."""
    spec = {"__name__": "make_submissions", "__file__": str(FIXTURES / "make_submissions.py")}
    exec(compile((FIXTURES / "make_submissions.py").read_text(), spec["__file__"], "exec"), spec)
    for path, text in spec["build"]().items():
        assert path.read_text(encoding="utf-8") == text, \
            f"{path} is stale: run python tests/fixtures/exercises/make_submissions.py"
    alice = nbformat.read(FIXTURES / "submissions" / "alice.ipynb", as_version=4)
    assert json.dumps(alice.metadata["kernelspec"]) and not any(STUB in c.source for c in alice.cells)


# --- the hand-out: what students get -------------------------------------------

def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _solution_texts(chapter: Path) -> list[str]:
    """Every piece of solution in a chapter: the solution code cells, the code below each
    `# solution` cut, and each line of solution text (what the student version drops)."""
    source, kept = jupytext.read(chapter), student_notebook(chapter)
    texts = []
    for cell in _code(source):
        if "solution" in cell.metadata.get("tags", []):
            texts.append(cell.source)
        elif student.has_cut(cell.source):
            lines = cell.source.split("\n")
            cut = [line.strip() for line in lines].index(student.CUT_MARKER)
            texts.append("\n".join(lines[cut + 1:]))
    shown = {_norm(line) for c in kept.cells if c.cell_type == "markdown"
             for line in c.source.split("\n")}
    for cell in source.cells:
        if cell.cell_type == "markdown":
            texts += [line for line in cell.source.split("\n")
                      if _norm(line) not in shown and len(_norm(line)) >= 30
                      and not _norm(line).startswith((":", "```"))]
    return [t for t in texts if _norm(t)]


@pytest.fixture(scope="module")
def handout(tmp_path_factory):
    from course_tools.cli import main

    out = tmp_path_factory.mktemp("handout") / "course"
    assert main(["student", "--handout", str(out)]) == 0
    return out


def test_handout_holds_the_notebooks_and_the_library_but_no_chapter_source(handout):
    assert sorted(p.name for p in (handout / "notebooks").iterdir()) == \
        [f"{c.stem}.ipynb" for c in CHAPTERS]
    for chapter in CHAPTERS:  # the same notebooks as `course student` writes
        assert (handout / "notebooks" / f"{chapter.stem}.ipynb").read_text() == \
            student.render(student_notebook(chapter), "ipynb")
    assert [p.relative_to(handout).as_posix() for p in handout.rglob("*.md")] == ["README.md"]
    assert (handout / "course_utils" / "data" / "generate.py").exists()
    assert not list((handout / "course_utils" / "exercises").glob("ch[0-9][0-9].py"))
    assert len(list((handout / "course_utils" / "exercises").glob("ch[0-9][0-9].pyc"))) == \
        len(list((paths.repo_root() / "course_utils" / "exercises").glob("ch[0-9][0-9].py")))
    project = (handout / "pyproject.toml").read_text()
    assert 'requires-python = "==3.11.*"' in project and '"exercises/*.pyc"' in project
    assert "pip install -e ." in (handout / "README.md").read_text()


def test_handout_contains_no_solution_text(handout):
    """Every solution of every chapter, searched for in every file of the hand-out
    (bytecode included); the same search finds them in the course's own checkers."""
    files = {p: _norm(p.read_bytes().decode("latin-1")) for p in handout.rglob("*") if p.is_file()}
    checkers = _norm("\n".join(p.read_text() for p in
                               (paths.repo_root() / "course_utils" / "exercises").glob("ch*.py")))
    searched = found_in_checkers = 0
    for chapter in CHAPTERS:
        for text in _solution_texts(chapter):
            searched += 1
            found_in_checkers += _norm(text) in checkers
            leaks = [p.relative_to(handout).as_posix() for p, t in files.items() if _norm(text) in t]
            assert leaks == [], f"{chapter.name}: {text[:80]!r} is in {leaks}"
    assert searched > 100
    assert found_in_checkers >= 5, "the search can find a solution where there is one"


def test_handout_library_imports_and_checks_without_checker_sources(handout):
    """The hand-out's own course_utils runs the checks (from bytecode), and finds its root."""
    script = (
        "import course_utils, json\n"
        "from course_utils import paths\n"
        "from course_utils.exercises import load_all, evaluate\n"
        "exercises = load_all()\n"
        "ok = all(evaluate(k, a).passed for k, ex in exercises.items() for a in ex.right)\n"
        "bad = all(not evaluate(k, a).passed for k, ex in exercises.items() for a, _ in ex.wrong)\n"
        "print(json.dumps([course_utils.__file__, str(paths.repo_root()), sorted(exercises), "
        "ok, bad]))\n")
    env = {k: v for k, v in os.environ.items() if k not in ("COURSE_HOME", "PYTHONPATH")}
    env["PYTHONPATH"] = str(handout)
    done = subprocess.run([sys.executable, "-c", script], cwd=handout / "notebooks", env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    module, root, keys, right_pass, wrong_fail = json.loads(done.stdout.splitlines()[-1])
    assert Path(module).resolve().is_relative_to(handout.resolve())
    assert Path(root) == handout.resolve()
    from course_utils.exercises import load_all
    assert keys == sorted(k for k, ex in load_all().items()  # the course's, not a test's
                          if ex.checker.__module__.startswith("course_utils.exercises.ch"))
    assert right_pass and wrong_fail


def test_handout_needs_an_empty_folder(tmp_path, capsys):
    from course_tools.cli import main

    (tmp_path / "old.txt").write_text("x")
    assert main(["student", "--handout", str(tmp_path)]) == 2
    assert "is not empty" in capsys.readouterr().err
