"""Grade a folder of submitted notebooks: ``course grade SUBMISSIONS --out grades.csv``.

``SUBMISSIONS`` holds one notebook per student (``alice.ipynb``, ``bob.md``)
or one folder per student (``carol/03_evaluation.ipynb`` plus any files it
reads). Each notebook is executed with papermill at the ``ci`` profile in its
own process, in a scratch copy of the student's folder (``HOME`` and ``TMPDIR``
point into the scratch folder too), with a time limit per notebook and per
cell. Every cell runs, even after an error. Each ``check(...)`` the notebook
reaches records its result; a check never reached scores zero.

The result is a gradebook (CSV: one row per student, one column per exercise,
then ``total``, ``out_of`` and ``notes``) and a feedback file per student
(``<out>_feedback/<student>.md``, with the executed notebooks beside it).
A notebook that crashes, loops, deletes files or writes outside its folder
gets a note, never a crashed grader, and the submissions folder is never
modified (the grader only reads it, and checks that it did not change).

This is isolation for honest mistakes, not a security sandbox: a notebook
runs with your user's rights. Grade untrusted code in a container.

Example
-------
>>> from course_utils.exercises.grade import find_submissions
>>> from course_utils import paths
>>> folder = paths.repo_root() / "tests/fixtures/exercises/submissions"
>>> [s.student for s in find_submissions(folder)][:2]
['alice', 'bob']
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable


from course_utils.exercises import registry
from course_utils.exercises.student import check_keys

if TYPE_CHECKING:  # nbformat is imported where it is used: it is slow to import
    import nbformat

DEFAULT_TIMEOUT = 600
DEFAULT_CELL_TIMEOUT = 120
_RUNTIME = ".runtime"  # tool folders (IPython, matplotlib, Keras): not the student's writes
_OWN = "work/submission"  # the student's folder inside a scratch folder


class GradingError(ValueError):
    """The grader was called with something it cannot grade (a missing folder...)."""


@dataclass
class Submission:
    """One student's work: a single notebook file, or a folder with notebooks."""

    student: str
    path: Path  # the file or the folder, inside the submissions folder
    notebooks: list[Path] = field(default_factory=list)

    @property
    def is_folder(self) -> bool:
        return self.path.is_dir()


@dataclass
class NotebookRun:
    """What happened when one notebook ran."""

    student: str
    notebook: str
    status: str  # "ok", "errors", "time limit", "crashed", "unreadable"
    wall_s: float = 0.0
    results: dict[str, dict] = field(default_factory=dict)
    cell_errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    executed: Path | None = None
    log_tail: str = ""


@dataclass
class StudentGrade:
    """One row of the gradebook."""

    student: str
    scores: dict[str, float]
    results: dict[str, dict]
    runs: list[NotebookRun]
    notes: list[str]

    @property
    def total(self) -> float:
        return sum(self.scores.values())


@dataclass
class Gradebook:
    """Every student's scores, one column per exercise."""

    keys: list[str]
    points: dict[str, float]
    students: list[StudentGrade]

    @property
    def out_of(self) -> float:
        return sum(self.points[k] for k in self.keys)

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["student", *self.keys, "total", "out_of", "notes"])
        for s in self.students:
            writer.writerow([s.student, *(_num(s.scores[k]) for k in self.keys),
                             _num(s.total), _num(self.out_of), "; ".join(s.notes)])
        return buffer.getvalue()


def _num(x: float) -> str:
    return f"{x:g}"


# --- finding the submissions -------------------------------------------------

def _is_notebook(path: Path) -> bool:
    if path.name.startswith(".") or not path.is_file():
        return False
    if path.suffix == ".ipynb":
        return True
    if path.suffix == ".md":  # a MyST notebook, not a README
        head = path.read_text(encoding="utf-8", errors="replace")
        return "```{code-cell}" in head
    return False


def find_submissions(folder: Path) -> list[Submission]:
    """The students in ``folder``, sorted by name (hidden files and folders skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GradingError(f"submissions folder {folder} does not exist (or is not a folder)")
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_dir():
            notebooks = sorted(p for p in entry.rglob("*") if _is_notebook(p)
                               and not any(part.startswith(".") for part in p.relative_to(entry).parts))
            found.append(Submission(entry.name, entry, notebooks))
        elif _is_notebook(entry):
            found.append(Submission(entry.stem, entry, [entry]))
    names = [s.student for s in found]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise GradingError(f"two submissions for {', '.join(dupes)} in {folder} "
                           "(a file and a folder with the same name?): keep one")
    return found


def folder_digest(folder: Path) -> str:
    """A hash of every file's path and bytes under ``folder`` (to prove it did not change)."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            digest.update(f"L {rel} {os.readlink(path)}\n".encode())
        elif path.is_file():
            digest.update(f"F {rel}\n".encode())
            digest.update(path.read_bytes())
        elif path.is_dir():
            digest.update(f"D {rel}\n".encode())
    return digest.hexdigest()


# --- running one notebook ----------------------------------------------------

def _snapshot(root: Path) -> dict[str, tuple[str, int, int]]:
    """Every path under ``root`` (not following links) → (kind, size, mtime)."""
    entries = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root)
        if rel_dir.parts[:1] in ((_RUNTIME,), ("tmp",)):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            try:
                st = path.lstat()
            except OSError:
                continue
            kind = "dir" if path.is_dir() and not path.is_symlink() else "file"
            entries[(rel_dir / name).as_posix()] = (kind, st.st_size, st.st_mtime_ns)
    return entries


def _outside_name(rel: str) -> str:
    """How a path of the scratch folder looks from the notebook's own folder."""
    parts = rel.split("/")
    if parts[0] == "home":
        return "~/" + "/".join(parts[1:]) if len(parts) > 1 else "~ (its home folder)"
    if parts[0] == "work":
        return "../" + "/".join(parts[1:])
    return "../../" + rel


def _file_changes(before: dict, after: dict, own: str) -> list[str]:
    notes = []
    written = sorted(rel for rel, entry in after.items()
                     if not (rel == own or rel.startswith(own + "/"))
                     and entry[0] == "file" and before.get(rel) != entry)
    if written:
        notes.append("wrote outside its folder: " + ", ".join(_outside_name(r) for r in written))
    gone = sorted(rel for rel in before if rel not in after)
    own_gone = [r[len(own) + 1:] for r in gone if r.startswith(own + "/")]
    other_gone = [_outside_name(r) for r in gone if not r.startswith(own + "/") and r != own]
    if own in before and own not in after:
        other_gone.append("../submission (its own folder)")
    if own_gone:
        notes.append("deleted files of its folder: " + ", ".join(own_gone))
    if other_gone:
        notes.append("deleted outside its folder: " + ", ".join(other_gone))
    return notes


def _kill_tree(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and everything it started (the kernel runs in its own session)."""
    import psutil

    try:
        parent = psutil.Process(proc.pid)
        family = [*parent.children(recursive=True), parent]  # children first: no orphans
    except psutil.Error:  # it has just ended by itself
        family = []
    for p in family:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(family, timeout=10)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _read_input(path: Path) -> nbformat.NotebookNode:
    import nbformat

    if path.suffix == ".md":
        import jupytext

        return jupytext.read(path)
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    return nb


def _cell_report(nb: nbformat.NotebookNode, cell_timeout: int | None) -> tuple[list[str], list[str]]:
    """(errors by cell, notes) from an executed (possibly partial) notebook."""
    errors, notes = [], []
    code = [c for c in nb.cells if c.cell_type == "code"
            and "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    for number, cell in enumerate(code, start=1):
        first = next((l.strip() for l in cell.source.split("\n") if l.strip()), "")
        where = f"code cell {number} (`{first[:50]}`)"
        status = cell.get("metadata", {}).get("papermill", {}).get("status")
        if status == "running":
            notes.append(f"{where} was still running when the notebook's time limit stopped it")
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            if out.get("ename") == "KeyboardInterrupt":
                limit = f" of {cell_timeout} s" if cell_timeout else ""
                errors.append(f"{where} was interrupted: it ran past the cell time limit{limit}")
            elif out.get("ename") == "NotImplementedError":
                errors.append(f"{where} is not done yet (NotImplementedError)")
            else:
                errors.append(f"{where} raised {out.get('ename')}: {out.get('evalue', '')}".rstrip(": "))
    return errors, notes


def _read_results(path: Path) -> tuple[dict[str, dict], int]:
    results, bad = {}, 0
    if not path.exists():
        return results, bad
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
            key = record["key"]
            passed = record["passed"] is True
        except (ValueError, KeyError, TypeError):
            bad += 1
            continue
        if isinstance(key, str):
            results[key] = {"passed": passed, "status": str(record.get("status", "")),
                            "message": str(record.get("message", ""))}
    return results, bad


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200]}" if text else type(exc).__name__


def _prepare_sandbox(sandbox: Path, sub: Submission, notebook: Path, rel: str) -> Path:
    """Copy the student's work into ``sandbox/work/submission``; return the notebook's cwd."""
    work = sandbox / _OWN
    if sub.is_folder:
        shutil.copytree(sub.path, work, symlinks=True)
    else:
        work.mkdir(parents=True)
        shutil.copy2(notebook, work / notebook.name)
    for name in ("home", "tmp", _RUNTIME):
        (sandbox / name).mkdir(exist_ok=True)
    return work / Path(rel).parent


def run_notebook(sub: Submission, notebook: Path, results_dir: Path, *, timeout: int,
                 cell_timeout: int | None, profile: str = "ci",
                 extra_checks: Iterable[Path] = ()) -> NotebookRun:
    """Execute one notebook of ``sub`` in a scratch copy of its folder; never raises.

    The grader's own files (the notebook to run, the executed copy, the check
    results, the log) live in ``results_dir``, outside the scratch folder.
    """
    import nbformat

    rel = notebook.relative_to(sub.path).as_posix() if sub.is_folder else notebook.name
    run = NotebookRun(sub.student, rel, "ok")
    stem = results_dir / hashlib.sha1(f"{sub.student}/{rel}".encode()).hexdigest()[:10]
    source_nb, output = stem.with_suffix(".input.ipynb"), stem.with_suffix(".executed.ipynb")
    grade_file, status_file = stem.with_suffix(".checks.jsonl"), stem.with_suffix(".status.json")
    log_file = stem.with_suffix(".log")
    try:
        nbformat.write(_read_input(notebook), source_nb)
    except Exception as exc:  # not JSON, not a notebook, unreadable MyST...
        run.status = "unreadable"
        run.notes.append(f"{rel}: could not read the notebook ({_first_line(exc)})")
        return run

    sandbox = Path(tempfile.mkdtemp(prefix="course-grade-"))
    try:
        cwd = _prepare_sandbox(sandbox, sub, notebook, rel)
        before = _snapshot(sandbox)
        cmd = [sys.executable, "-m", "course_utils.exercises._execute", str(source_nb),
               str(output), "--cwd", str(cwd), "--status", str(status_file), "--profile", profile]
        if cell_timeout:
            cmd += ["--cell-timeout", str(int(cell_timeout))]
        start = time.perf_counter()
        with open(log_file, "wb") as log:
            proc = subprocess.Popen(cmd, cwd=cwd, env=_child_env(sandbox, grade_file, profile,
                                                                 extra_checks),
                                    stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_tree(proc)
                run.status = "time limit"
                run.notes.append(f"{rel}: stopped at the time limit of {timeout} s per notebook; "
                                 "checks after that point score zero")
        run.wall_s = round(time.perf_counter() - start, 1)
        run.notes += [f"{rel}: {n}" for n in _file_changes(before, _snapshot(sandbox), _OWN)]
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)

    if run.status != "time limit":
        status = (json.loads(status_file.read_text()) if status_file.exists() else
                  {"status": "crashed", "error": f"its runner exited with code {proc.returncode}"})
        run.status = status["status"]
        if run.status == "crashed":
            run.notes.append(f"{rel}: the notebook could not run to its end ({status['error']})")
    run.results, bad = _read_results(grade_file)
    if bad:
        run.notes.append(f"{rel}: ignored {bad} unreadable line(s) in its check results")
    try:
        executed = nbformat.read(output, as_version=4)
    except Exception:  # never written, or half-written when the process was killed
        executed = None
    if executed is not None:
        run.cell_errors, notes = _cell_report(executed, cell_timeout)
        run.notes += [f"{rel}: {n}" for n in notes]
        run.executed = output
    run.log_tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-15:])
    return run


def _child_env(sandbox: Path, grade_file: Path, profile: str,
               extra_checks: Iterable[Path]) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("COURSE_RESULTS_FILE", registry.STRICT_ENV):
        env.pop(name, None)
    runtime = sandbox / _RUNTIME
    env.update({
        "HOME": str(sandbox / "home"),
        "TMPDIR": str(sandbox / "tmp"),
        "IPYTHONDIR": str(runtime / "ipython"),
        "MPLCONFIGDIR": str(runtime / "matplotlib"),
        "KERAS_HOME": str(runtime / "keras"),
        "XDG_CACHE_HOME": str(runtime / "cache"),
        "XDG_CONFIG_HOME": str(runtime / "config"),
        "JUPYTER_RUNTIME_DIR": str(runtime / "jupyter"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "COURSE_PROFILE": profile,
        registry.GRADE_FILE_ENV: str(grade_file),
        registry.STRICT_ENV: "0",
    })
    checks = [str(Path(p).resolve()) for p in extra_checks]
    if checks:
        env[registry.EXTRA_CHECKS_ENV] = os.pathsep.join(checks)
    return env


# --- the gradebook -----------------------------------------------------------

def _key_order(keys: Iterable[str]) -> list[str]:
    """Keys grouped by chapter (in chapter order), first-seen order inside a chapter."""
    keys = list(dict.fromkeys(keys))
    return sorted(keys, key=lambda k: (k.split(".", 1)[0], keys.index(k)))


def _points(key: str) -> float:
    try:
        return registry.get(key).points
    except registry.UnknownExercise:
        return 1.0


def grade(submissions: Path, out: Path, feedback_dir: Path | None = None, *,
          timeout: int = DEFAULT_TIMEOUT, cell_timeout: int | None = DEFAULT_CELL_TIMEOUT,
          jobs: int = 1, profile: str = "ci", assignments: Iterable[Path] = (),
          checks: Iterable[Path] = (), echo: Callable[[str], None] = print) -> Gradebook:
    """Grade every submission in ``submissions``; write ``out`` (CSV) and the feedback files.

    Parameters
    ----------
    submissions : Path
        One notebook or one folder per student.
    out : Path
        The gradebook CSV to write (outside ``submissions``).
    feedback_dir : Path, optional
        Default: ``<out without .csv>_feedback`` beside ``out``.
    timeout, cell_timeout : int
        Seconds per notebook (the process is killed) and per cell (interrupted).
    assignments : paths
        Notebooks whose ``check(...)`` keys are always columns (e.g. ``student/03_*.ipynb``).
    checks : paths
        Python files of extra ``@exercise`` checkers (the instructor's own exercises).
    """
    submissions, out = Path(submissions).resolve(), Path(out).resolve()
    feedback_dir = Path(feedback_dir).resolve() if feedback_dir else out.with_name(out.stem + "_feedback")
    for target in (out, feedback_dir):
        if target == submissions or submissions in target.parents:
            raise GradingError(f"{target} is inside the submissions folder {submissions}: "
                               "write the gradebook and feedback somewhere else")
    for path in checks:
        registry.load_checks(path)
    found = find_submissions(submissions)
    digest = folder_digest(submissions)
    echo(f"grading {len(found)} submission(s) from {submissions} "
         f"(profile {profile}, {timeout} s per notebook)")

    with tempfile.TemporaryDirectory(prefix="course-grade-results-") as tmp:
        results_dir = Path(tmp)
        snapshot = results_dir / "submissions"
        shutil.copytree(submissions, snapshot, symlinks=True)  # graded from a private copy
        copies = [Submission(s.student, snapshot / s.path.relative_to(submissions),
                             [snapshot / n.relative_to(submissions) for n in s.notebooks])
                  for s in found]
        tasks = [(s, nb) for s in copies for nb in s.notebooks]

        def one(task: tuple[Submission, Path]) -> NotebookRun:
            sub, nb = task
            try:
                run = run_notebook(sub, nb, results_dir, timeout=timeout,
                                   cell_timeout=cell_timeout, profile=profile, extra_checks=checks)
            except Exception as exc:  # a bug or a full disk: note it, grade the others
                run = NotebookRun(sub.student, nb.name, "crashed", notes=[
                    f"{nb.name}: the grader failed on this notebook ({type(exc).__name__}: {exc})"])
            passed = sum(r["passed"] for r in run.results.values())
            echo(f"  {sub.student:20} {run.notebook:28} {run.status:10} "
                 f"{passed}/{len(run.results)} checks passed  {run.wall_s:6.1f} s")
            return run

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            runs = list(pool.map(one, tasks))

        changed = folder_digest(submissions) != digest
        book = _gradebook(copies, runs, assignments)
        if changed:
            for s in book.students:
                s.notes.append("the submissions folder changed during grading (check it)")
            echo(f"warning: {submissions} changed while grading; grades come from the copy "
                 "taken at the start")
        _write_outputs(book, out, feedback_dir)
    echo(f"gradebook: {out}\nfeedback:  {feedback_dir}/")
    return book


def _gradebook(subs: list[Submission], runs: list[NotebookRun],
               assignments: Iterable[Path]) -> Gradebook:
    keys: list[str] = []
    for path in assignments:
        keys += check_keys(Path(path))
    for sub in subs:
        for nb in sub.notebooks:
            try:
                keys += [k for k in check_keys(nb) if registry.KEY_PATTERN.match(k)]
            except Exception:  # unreadable: reported by its run
                pass
    for run in runs:
        keys += sorted(run.results)
    keys = _key_order(keys)
    points = {k: _points(k) for k in keys}
    students = []
    for sub in subs:
        mine = [r for r in runs if r.student == sub.student]
        results: dict[str, dict] = {}
        for run in mine:  # the best result of a key over the student's notebooks
            for key, res in run.results.items():
                if key not in results or (res["passed"] and not results[key]["passed"]):
                    results[key] = res
        scores = {k: points[k] if results.get(k, {}).get("passed") else 0.0 for k in keys}
        notes = [n for r in mine for n in r.notes]
        if not sub.notebooks:
            notes.append("no notebook found in the folder")
        errors = sum(len(r.cell_errors) for r in mine)
        if errors:
            notes.append(f"{errors} cell(s) raised an error (see feedback)")
        missing = [k for k in keys if k not in results]
        if missing:
            notes.append("not reached: " + ", ".join(missing))
        students.append(StudentGrade(sub.student, scores, results, mine, notes))
    return Gradebook(keys, points, students)


def feedback_text(book: Gradebook, s: StudentGrade) -> str:
    """The feedback file of one student (Markdown)."""
    lines = [f"# Feedback for {s.student}", "",
             f"Score: **{_num(s.total)} / {_num(book.out_of)}**", "",
             "| exercise | result | points |", "| --- | --- | --- |"]
    for key in book.keys:
        res = s.results.get(key)
        state = "not reached" if res is None else ("passed" if res["passed"] else res["status"] or "not yet")
        lines.append(f"| {key} | {state} | {_num(s.scores[key])} / {_num(book.points[key])} |")
    for key in book.keys:
        res = s.results.get(key)
        lines += ["", f"## {key}", ""]
        if res is None:
            lines.append("This check never ran: the notebook stopped before it, or its cell "
                         "was removed or raised an error before calling `check`.")
        else:
            lines += ["```text", res["message"], "```"]
    errors = [e for r in s.runs for e in r.cell_errors]
    if errors:
        lines += ["", "## Cells that raised an error", ""] + [f"- {e}" for e in errors]
    if s.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in s.notes]
    crashed = [r for r in s.runs if r.status == "crashed" and r.log_tail]
    for r in crashed:
        lines += ["", f"## What the runner printed for {r.notebook}", "", "```text", r.log_tail, "```"]
    return "\n".join(lines) + "\n"


def _write_outputs(book: Gradebook, out: Path, feedback_dir: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(book.to_csv(), encoding="utf-8")
    feedback_dir.mkdir(parents=True, exist_ok=True)
    for s in book.students:
        (feedback_dir / f"{s.student}.md").write_text(feedback_text(book, s), encoding="utf-8")
        for run in s.runs:
            if run.executed is not None and run.executed.exists():
                target = feedback_dir / "executed" / s.student / run.notebook
                target = target.with_suffix(".ipynb")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(run.executed, target)
