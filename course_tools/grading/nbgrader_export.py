"""An nbgrader course folder from the chapters: ``course student --format nbgrader``.

An instructor on JupyterHub who grades with nbgrader gets a new course folder:

- ``nbgrader_config.py``: the stub a student sees in place of a solution (the
  course's own ``raise NotImplementedError  # your code here``), the cell time
  limit, and the profile and data folder the notebooks use while nbgrader runs them;
- ``source/NN_name/NN_name.ipynb`` per chapter: the chapter's student notebook
  (as ``course student`` makes it) with nbgrader's cell metadata:

  - each **answer cell** (a cell cut at ``# solution``) is an *autograded answer*;
    the code below the cut sits between ``### BEGIN SOLUTION`` and ``### END
    SOLUTION``, which ``nbgrader generate_assignment`` replaces by the stub, so the
    release is the course's student notebook, cell ids included;
  - each ``check("NN.name", answer)`` is an *autograded test* cell with that
    exercise's points (one test cell per check); it calls :func:`nbgrader_check`,
    which prints the checker's message and raises when the answer is not right;
  - a read-only cell before the first answer notes the functions the checkers rely
    on, so that an answer that changes one scores zero (as in ``course grade``);
  - every other cell is read-only (``locked``): ``nbgrader autograde`` puts back
    your version of it.

Example
-------
>>> print(solution_region("def f(x):\\n    # solution\\n    return 2 * x"))
def f(x):
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION
>>> grade_id("03.ndcg")
'check-03_ndcg'
"""
from __future__ import annotations

import ast
import copy
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from course_tools.grading import student
from course_tools.grading.student import CUT_MARKER, STUB

if TYPE_CHECKING:  # nbformat is imported where it is used: it is slow to import
    import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SCHEMA_VERSION = 3  # nbgrader 0.9's cell metadata
NOTE_CELL_ID = "course-note-libraries"
CONFIG_NAME = "nbgrader_config.py"

CONFIG = '''"""nbgrader's settings for this course folder (written by `course student --format nbgrader`).

Run nbgrader from this folder, for example:

    nbgrader generate_assignment 03_evaluation
    nbgrader autograde 03_evaluation
"""
import os

c = get_config()  # noqa: F821 (nbgrader defines it)

# The line a student sees in place of each solution: the course's own stub, so the
# release is the course's student notebook and `course grade` can grade it too.
c.ClearSolutions.code_stub = {{"python": {stub!r}}}

# Seconds a cell may run in `nbgrader autograde` before it is interrupted
# (nbgrader's default is 30; `course grade` allows 120).
c.Execute.timeout = 120

# While nbgrader runs the notebooks: the data size they use (ci, book or full; ci is
# what `course grade` uses) and the folder where the course keeps its data and caches
# (the checkout this folder was written from). The environment wins over these.
os.environ.setdefault("COURSE_PROFILE", {profile!r})
os.environ.setdefault("COURSE_HOME", {home!r})
'''


class NbgraderExportError(ValueError):
    """The nbgrader course folder cannot be written (a folder that is not empty...)."""


class CheckNotPassed(AssertionError):
    """Raised by :func:`nbgrader_check` so that nbgrader scores the test cell zero."""


def solution_region(source: str) -> str:
    """A code cell with its ``# solution`` cut marked as an nbgrader solution region.

    What is below the marker goes between ``### BEGIN SOLUTION`` and ``### END
    SOLUTION`` at the marker's indentation. A cell that already shows the stub
    (no cut) gets the region around its stub line, so the release keeps it as it is.
    """
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if line.strip() in (CUT_MARKER, STUB):
            indent = line[: len(line) - len(line.lstrip())]
            body = lines[i + 1:] if line.strip() == CUT_MARKER else [line.strip()]
            while body and not body[-1].strip():
                body.pop()
            return "\n".join(lines[:i] + [indent + BEGIN] + body + [indent + END])
    return source


def grade_id(key: str) -> str:
    """nbgrader's ``grade_id`` of the test cell of the check ``key``."""
    return "check-" + re.sub(r"[^A-Za-z0-9_-]", "_", key)


def _meta(grade_id: str, *, solution: bool = False, grade: bool = False, locked: bool = False,
          points: float | None = None) -> dict[str, Any]:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked,
            "schema_version": SCHEMA_VERSION, "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    return meta


def _split_checks(source: str) -> list[tuple[str, str]]:
    """``[(key, cell source)]``: a check cell cut into one test cell per top-level check.

    Each ``check("KEY", answer)`` becomes ``nbgrader_check("KEY", answer)``; the other
    statements stay with the check after them (the last check takes those below it).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:  # not a check cell the grader could read either
        return []
    lines = source.split("\n")
    parts: list[tuple[str, list[str]]] = []
    start = 0
    for node in tree.body:
        if (isinstance(node, ast.ImportFrom) and node.module == "course_utils.exercises"
                and [a.name for a in node.names] == ["check"] and not node.names[0].asname):
            lines[node.lineno - 1:node.end_lineno] = [""] * (node.end_lineno - node.lineno + 1)
            continue  # the test cell calls nbgrader_check instead
        call = node.value if isinstance(node, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id == "check" and len(call.args) == 2 and not call.keywords
                and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)):
            continue
        key = call.args[0].value
        answer = ast.get_source_segment(source, call.args[1])
        chunk = lines[start:node.lineno - 1] + [
            " " * node.col_offset + f"nbgrader_check({key!r}, {answer})"]
        parts.append((key, chunk))
        start = node.end_lineno
    if parts:
        parts[-1][1].extend(lines[start:])
    head = "from course_tools.grading.nbgrader_export import nbgrader_check"
    return [(key, re.sub(r"\n{3,}", "\n\n", "\n".join([head, *chunk]).strip("\n")))
            for key, chunk in parts]


def _note_cell(keys: list[str]) -> nbformat.NotebookNode:
    import nbformat

    cell = nbformat.v4.new_code_cell(
        "# The grader notes the functions that the checks rely on: an answer that changes\n"
        "# one of them scores zero.\n"
        "from course_tools.grading.answers import note_libraries\n"
        f"note_libraries({keys!r})")
    cell["id"] = NOTE_CELL_ID
    cell.metadata["nbgrader"] = _meta(f"cell-{NOTE_CELL_ID}", locked=True)
    return cell


def nbgrader_notebook(source: Path) -> nbformat.NotebookNode:
    """The nbgrader source notebook of the chapter ``source`` (a MyST ``.md`` notebook).

    Raises
    ------
    NbgraderExportError
        When a check names a key that no checker is registered under, or nbgrader's
        own validator refuses the metadata.
    """
    from course_utils.exercises import registry

    source = Path(source)
    where = student._display(source)
    plain = student.student_notebook(source)
    nb = student.student_notebook(source, cut=solution_region)
    if [c.cell_type for c in plain.cells] != [c.cell_type for c in nb.cells]:
        raise NbgraderExportError(f"{where}: the student notebook and the nbgrader notebook "
                                  "differ in their cells (report this as a bug)")
    cells: list[Any] = []
    keys = [k for c in plain.cells if c.cell_type == "code" for k, _ in _split_checks(c.source)]
    noted = False
    for mine, theirs in zip(nb.cells, plain.cells):
        mine["id"] = theirs["id"]  # the same ids as the course's student notebook
        if mine.cell_type == "code" and BEGIN in mine.source:
            if keys and not noted:
                cells.append(_note_cell(keys))
                noted = True
            mine.metadata["nbgrader"] = _meta(f"answer-{mine['id']}", solution=True)
            cells.append(mine)
            continue
        checks = _split_checks(mine.source) if mine.cell_type == "code" else []
        if not checks:
            if mine.cell_type in ("code", "markdown"):
                mine.metadata["nbgrader"] = _meta(f"cell-{mine['id']}", locked=True)
            cells.append(mine)
            continue
        for n, (key, text) in enumerate(checks):
            try:
                points = registry.get(key).points
            except registry.UnknownExercise as exc:
                raise NbgraderExportError(f"{where}: {exc}") from exc
            cell = copy.deepcopy(mine)
            cell.source = text
            cell["id"] = mine["id"] if n == 0 else f"{mine['id']}-{n + 1}"
            cell.metadata["nbgrader"] = _meta(grade_id(key), grade=True, locked=True,
                                              points=points)
            cells.append(cell)
    nb.cells = cells
    nb.metadata["course"] = {"source": where, "generated_by": "course student --format nbgrader"}
    _validate(nb, where)
    return nb


def _validate(nb: nbformat.NotebookNode, where: str) -> None:
    from nbgrader.nbgraderformat import MetadataValidator, ValidationError

    try:
        MetadataValidator().validate_nb(nb)
    except ValidationError as exc:
        raise NbgraderExportError(f"{where}: nbgrader refuses the cell metadata: {exc}") from exc


def config_text(profile: str = "ci", home: Path | None = None) -> str:
    """The ``nbgrader_config.py`` of the course folder."""
    from course_utils import paths

    return CONFIG.format(stub=STUB, profile=profile, home=str(home or paths.repo_root()))


def write_course(out_dir: Path, chapters: list[Path] | None = None,
                 profile: str = "ci") -> list[Path]:
    """Write an nbgrader course folder into ``out_dir`` (new or empty); return its files.

    The folder is built beside ``out_dir`` and moved into place at the end, so a
    failure leaves no half-written course folder.
    """
    from course_utils import paths

    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise NbgraderExportError(
            f"{out_dir} is not empty: give a new folder with --out (an nbgrader course folder "
            "holds the gradebook and the students' work, so it is never overwritten)")
    chapters = paths.chapters() if chapters is None else chapters
    notebooks = {Path(c).stem: nbgrader_notebook(Path(c)) for c in chapters}
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.with_name(f".{out_dir.name}.partial-{os.getpid()}")
    staging.mkdir()
    try:
        (staging / CONFIG_NAME).write_text(config_text(profile), encoding="utf-8")
        for name, nb in notebooks.items():
            target = staging / "source" / name / f"{name}.ipynb"
            target.parent.mkdir(parents=True)
            target.write_text(student.render(nb, "ipynb"), encoding="utf-8")
        if out_dir.exists():
            out_dir.rmdir()
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return sorted(p for p in out_dir.rglob("*") if p.is_file())


def nbgrader_check(key: str, answer: Any) -> None:
    """The test cell of an nbgrader assignment: check ``answer``, raise when it is not right.

    The answer is refused when it is the course's own code or when it changed a
    function the checkers rely on (noted by the read-only cell before the answers),
    as in ``course grade``.

    Example
    -------
    >>> nbgrader_check("00.sparsity", lambda m: 0.0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    course_tools.grading.nbgrader_export.CheckNotPassed: 00.sparsity: not right (see the message above)
    """
    from course_tools.grading import answers
    from course_utils.exercises import registry

    ex = registry.get(key)
    problem = answers.provenance(answer)
    result = None if problem else registry.evaluate(key, answer)
    changed = answers.changed_libraries()
    if changed:
        answers.restore_libraries()
        problem = (f"the answer changed {', '.join(changed[:3])}: an answer may not change "
                   "a library")
    if problem:
        result = registry.Result(key, False, f"{registry.FAIL_MARK} {key} ({ex.title}): not "
                                 f"graded.\n  {problem}", ex.points, "rejected")
    print(result.message, flush=True)
    if not result.passed:
        raise CheckNotPassed(f"{key}: not right (see the message above)")
