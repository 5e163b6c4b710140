"""Grade a folder of submitted notebooks: ``course grade SUBMISSIONS --out grades.csv``.

``SUBMISSIONS`` holds one notebook per student (``alice.ipynb``, ``bob.md``)
or one folder per student (``carol/03_evaluation.ipynb`` plus any files it
reads). Each notebook is run twice, each time in its own process group, in a
scratch copy of the student's folder (``HOME`` and ``TMPDIR`` point into it):

1. **grading**: the grader builds a notebook from the instructor's copy of the
   assignment in which only the student's answer cells are the student's
   (:mod:`course_tools.grading.answers`), runs it in a fresh kernel, and reads
   each check's result from a pipe that the kernel never sees. These results,
   and nothing the submission writes, decide the points; a check never reached
   scores zero;
2. **feedback**: the whole submission with papermill, for the executed copy,
   the cells that raised, and the notes (files written outside its folder...).

The result is a gradebook (CSV: one row per student, one column per exercise,
then ``total``, ``out_of`` and ``notes``) and a feedback file per student
(``<out>_feedback/<student>.md``, with the executed notebooks beside it).
A notebook that crashes, loops, deletes files or writes outside its folder
gets a note, never a crashed grader, and the submissions folder is never
modified (the grader only reads it, and checks that it did not change).
Ctrl-C or SIGTERM stops every process the grader started and writes the
gradebook of the students already graded (:class:`GradingInterrupted`).

The grade resists a submission that forges results, but a notebook still runs
with your user's rights: grade untrusted code in a container (see the
instructors page).

Example
-------
>>> from course_tools.grading.grade import find_submissions
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
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable


from course_tools.grading import answers
from course_utils.exercises import registry
from course_tools.grading.student import check_keys, student_notebook

if TYPE_CHECKING:  # nbformat is imported where it is used: it is slow to import
    import nbformat

DEFAULT_TIMEOUT = 600
DEFAULT_CELL_TIMEOUT = 120
_RUNTIME = ".runtime"  # tool folders (IPython, matplotlib, Keras): not the student's writes
_OWN = "work/submission"  # the student's folder inside a scratch folder


class GradingError(ValueError):
    """The grader was called with something it cannot grade (a missing folder...)."""


class GradingInterrupted(RuntimeError):
    """Grading stopped on SIGINT or SIGTERM; the gradebook holds the students graded before."""

    def __init__(self, signum: int, graded: list[str], not_graded: list[str]) -> None:
        name = signal.Signals(signum).name
        super().__init__(f"interrupted by {name}: graded {len(graded)} student(s); not graded: "
                         f"{', '.join(not_graded) or 'none'}")
        self.signum, self.graded, self.not_graded = signum, graded, not_graded


class _Processes:
    """The grader's child processes, so that a signal can end every one of them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.live: set[subprocess.Popen] = set()
        self.signum: int | None = None

    def start(self, cmd: list[str], **kwargs) -> subprocess.Popen | None:
        """Popen in a new session (its own process group); ``None`` once stopped."""
        with self.lock:
            if self.signum is not None:
                return None
            proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
            self.live.add(proc)
            return proc

    def done(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.live.discard(proc)

    def stop(self, signum: int) -> None:
        with self.lock:  # a runner being started now is either refused or killed here
            self.signum = signum
            live = list(self.live)
        for proc in live:
            _kill_family(proc)


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
    graded: Path | None = None  # the executed grading notebook
    assignment: str = ""
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


def _kill_family(proc: subprocess.Popen) -> None:
    """Kill ``proc``, its process group, and every process it started with theirs.

    The runner leads a session of its own (``start_new_session``); jupyter_client
    starts each kernel in a new session too, so the groups of all descendants are
    killed (``os.killpg``), then any process left of the family.
    """
    import psutil

    try:
        parent = psutil.Process(proc.pid)
        family = [parent, *parent.children(recursive=True)]
    except psutil.Error:  # it has just ended by itself
        family = []
    groups = set()
    for p in family:
        try:
            groups.add(os.getpgid(p.pid))
        except OSError:
            pass
    groups.discard(os.getpgrp())  # never the grader's own group
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:
            pass
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


@dataclass
class Assignment:
    """The instructor's copy of an assignment: a student notebook made from a chapter."""

    name: str
    nb: nbformat.NotebookNode
    keys: list[str]


def load_assignment(path: Path) -> Assignment:
    """An assignment from a student notebook (``.ipynb``) or a chapter source (``.md``).

    A chapter source is turned into its student notebook first, so its solutions
    never run in grading.
    """
    import nbformat

    path = Path(path)
    if not path.is_file():
        raise GradingError(f"assignment {path} does not exist (give a student notebook, "
                           "e.g. student/03_evaluation.ipynb, or a chapter source)")
    nb = student_notebook(path) if path.suffix == ".md" else nbformat.read(path, as_version=4)
    keys = [k for c in nb.cells if c.cell_type == "code" for k in answers.check_calls(c.source)[0]]
    return Assignment(path.name, nb, keys)


def _choose(assignments: list[Assignment], nb: nbformat.NotebookNode) -> Assignment | None:
    """The assignment whose answer cells the submission holds most of."""
    scored = [(answers.match_score(a.nb, nb), -i, a) for i, a in enumerate(assignments)]
    best = max(scored, default=None, key=lambda t: t[:2])
    return best[2] if best and best[0] > 0 else None


def _spawn(processes: _Processes, cmd: list[str], *, cwd: Path, env: dict[str, str],
           log_file: Path, timeout: int, pass_fds: tuple[int, ...] = ()) -> tuple[str, int | None]:
    """Run ``cmd`` in its own process group: ``("ok" | "time limit" | "interrupted", code)``."""
    with open(log_file, "ab") as log:
        proc = processes.start(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, pass_fds=pass_fds)
        if proc is None:
            return "interrupted", None
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_family(proc)
            return ("interrupted" if processes.signum else "time limit"), proc.returncode
        finally:
            processes.done(proc)
            try:  # stragglers of the runner's own group
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
    return ("interrupted" if processes.signum else "ok"), proc.returncode


def _read_records(data: bytes) -> dict[str, dict]:
    """The runner's result lines (one JSON object per check) → ``{key: result}``."""
    results = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
            key, passed = record["key"], record["passed"]
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(key, str) and isinstance(passed, bool):
            results[key] = {"passed": passed, "status": str(record.get("status", "")),
                            "message": str(record.get("message", ""))}
    return results


def _status_note(rel: str, outcome: str, status_file: Path, code: int | None, timeout: int,
                 what: str) -> tuple[str, list[str]]:
    if outcome == "time limit":
        return outcome, [f"{rel}: stopped at the time limit of {timeout} s per notebook "
                         f"({what}); checks after that point score zero"]
    if outcome == "interrupted":
        return outcome, []
    status = (json.loads(status_file.read_text()) if status_file.exists() else
              {"status": "crashed", "error": f"its runner exited with code {code}"})
    if status["status"] == "crashed":
        return "crashed", [f"{rel}: the notebook could not run to its end ({what}: "
                           f"{status['error']})"]
    return status["status"], []


def run_notebook(sub: Submission, notebook: Path, results_dir: Path, *, timeout: int,
                 cell_timeout: int | None, profile: str = "ci", extra_checks: Iterable[Path] = (),
                 assignments: Iterable[Assignment] = (),
                 processes: _Processes | None = None) -> NotebookRun:
    """Grade one notebook of ``sub``, then run it whole for feedback; never raises.

    The grader's own files (the notebooks to run, the executed copies, the logs)
    live in ``results_dir``, outside the scratch folders the notebooks run in.
    """
    import nbformat

    processes = processes or _Processes()
    rel = notebook.relative_to(sub.path).as_posix() if sub.is_folder else notebook.name
    run = NotebookRun(sub.student, rel, "ok")
    stem = results_dir / hashlib.sha1(f"{sub.student}/{rel}".encode()).hexdigest()[:10]
    try:
        nb = _read_input(notebook)
        nbformat.write(nb, stem.with_suffix(".input.ipynb"))
    except Exception as exc:  # not JSON, not a notebook, unreadable MyST...
        run.status = "unreadable"
        run.notes.append(f"{rel}: could not read the notebook ({_first_line(exc)})")
        return run
    extra_checks = [Path(p) for p in extra_checks]
    assignment = _choose(list(assignments), nb)
    if assignment is None:
        run.notes.append(f"{rel}: it holds the answer cells of no assignment, so nothing was "
                         "graded (give the assigned notebook with --assignment)")
    else:
        _grade_answers(run, sub, notebook, rel, nb, assignment, stem, timeout=timeout,
                       cell_timeout=cell_timeout, profile=profile, extra_checks=extra_checks,
                       processes=processes)
    _feedback_run(run, sub, notebook, rel, stem, timeout=timeout, cell_timeout=cell_timeout,
                  profile=profile, extra_checks=extra_checks, processes=processes)
    run.notes = list(dict.fromkeys(run.notes))
    return run


def _grade_answers(run: NotebookRun, sub: Submission, notebook: Path, rel: str,
                   nb: nbformat.NotebookNode, assignment: Assignment, stem: Path, *,
                   timeout: int, cell_timeout: int | None, profile: str,
                   extra_checks: list[Path], processes: _Processes) -> None:
    """The grading run: the student's answer cells in the instructor's notebook."""
    import nbformat

    grading, key_notes = answers.grading_notebook(assignment.nb, nb, profile,
                                                  check_modules=[p.stem for p in extra_checks])
    source, output = stem.with_suffix(".grading.ipynb"), stem.with_suffix(".graded.ipynb")
    status_file = stem.with_suffix(".grading-status.json")
    nbformat.write(grading, source)
    read_fd, write_fd = os.pipe()
    received: list[bytes] = []

    def drain() -> None:
        with os.fdopen(read_fd, "rb") as pipe:
            received.append(pipe.read())

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    sandbox = Path(tempfile.mkdtemp(prefix="course-grade-"))
    try:
        cwd = _prepare_sandbox(sandbox, sub, notebook, rel)
        cmd = [sys.executable, "-m", "course_tools.grading._execute", str(source), str(output),
               "--cwd", str(cwd), "--status", str(status_file), "--profile", profile,
               "--result-fd", str(write_fd)]
        if cell_timeout:
            cmd += ["--cell-timeout", str(int(cell_timeout))]
        start = time.perf_counter()
        outcome, code = _spawn(processes, cmd, cwd=cwd,
                               env=_child_env(sandbox, profile, extra_checks),
                               log_file=stem.with_suffix(".log"), timeout=timeout,
                               pass_fds=(write_fd,))
        run.wall_s += time.perf_counter() - start
    finally:
        os.close(write_fd)
        reader.join(timeout=10)
        shutil.rmtree(sandbox, ignore_errors=True)
    run.assignment = assignment.name
    run.results = _read_records(b"".join(received))
    run.status, notes = _status_note(rel, outcome, status_file, code, timeout, "grading its answers")
    run.notes += notes
    for key, texts in key_notes.items():
        run.notes += [f"{rel}: {key}: {t}" for t in texts]
        if texts and key in run.results and not run.results[key]["passed"]:
            run.results[key]["message"] += "\n  Graded: " + "; ".join(texts)
    if output.exists():
        run.graded = output


def _feedback_run(run: NotebookRun, sub: Submission, notebook: Path, rel: str, stem: Path, *,
                  timeout: int, cell_timeout: int | None, profile: str,
                  extra_checks: list[Path], processes: _Processes) -> None:
    """The feedback run: the whole submission as the student wrote it; no points."""
    import nbformat

    output, status_file = stem.with_suffix(".executed.ipynb"), stem.with_suffix(".status.json")
    log_file = stem.with_suffix(".log")
    sandbox = Path(tempfile.mkdtemp(prefix="course-grade-"))
    try:
        cwd = _prepare_sandbox(sandbox, sub, notebook, rel)
        before = _snapshot(sandbox)
        cmd = [sys.executable, "-m", "course_tools.grading._execute",
               str(stem.with_suffix(".input.ipynb")), str(output), "--cwd", str(cwd),
               "--status", str(status_file), "--profile", profile]
        if cell_timeout:
            cmd += ["--cell-timeout", str(int(cell_timeout))]
        start = time.perf_counter()
        outcome, code = _spawn(processes, cmd, cwd=cwd,
                               env=_child_env(sandbox, profile, extra_checks),
                               log_file=log_file, timeout=timeout)
        run.wall_s = round(run.wall_s + time.perf_counter() - start, 1)
        run.notes += [f"{rel}: {n}" for n in _file_changes(before, _snapshot(sandbox), _OWN)]
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)
    status, notes = _status_note(rel, outcome, status_file, code, timeout, "running it whole")
    run.notes += notes
    if outcome == "interrupted" or run.status == "ok" and status != "ok":
        run.status = status
    try:
        executed = nbformat.read(output, as_version=4)
    except Exception:  # never written, or half-written when the process was killed
        executed = None
    if executed is not None:
        run.cell_errors, notes = _cell_report(executed, cell_timeout)
        run.notes += [f"{rel}: {n}" for n in notes]
        run.executed = output
    run.log_tail = "\n".join(log_file.read_text(errors="replace").splitlines()[-15:])


def _child_env(sandbox: Path, profile: str, extra_checks: Iterable[Path]) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("COURSE_RESULTS_FILE", registry.STRICT_ENV, registry.GRADE_FILE_ENV):
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


def _course_assignments(subs: list[Submission]) -> list[Assignment]:
    """The course's chapters whose check keys the submissions name (no --assignment given)."""
    from course_utils import paths

    named: set[str] = set()
    for sub in subs:
        for nb in sub.notebooks:
            try:
                named |= set(check_keys(nb))
            except Exception:  # unreadable: reported by its run
                pass
    return [load_assignment(chapter) for chapter in paths.chapters()
            if named & set(check_keys(chapter))]


def _install_handlers(processes: _Processes) -> dict[int, object]:
    """SIGINT and SIGTERM stop every child at once (only possible in the main thread)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: object) -> None:
        processes.stop(signum)

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


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
        Seconds per notebook run (the processes are killed) and per cell (interrupted).
    assignments : paths
        The instructor's copies: student notebooks (``student/03_*.ipynb``) or chapter
        sources (``.md``). Their check keys are always columns. Default: the course's
        chapters whose check keys the submissions name.
    checks : paths
        Python files of extra ``@exercise`` checkers (the instructor's own exercises).

    Raises
    ------
    GradingInterrupted
        On SIGINT or SIGTERM, after every child process is ended and the gradebook
        of the students graded so far is written.
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
    given = [load_assignment(Path(p)) for p in assignments]
    copies_of = given or _course_assignments(found)
    digest = folder_digest(submissions)
    echo(f"grading {len(found)} submission(s) from {submissions} "
         f"(profile {profile}, {timeout} s per notebook)")
    processes = _Processes()
    previous = _install_handlers(processes)
    try:
        with tempfile.TemporaryDirectory(prefix="course-grade-results-") as tmp:
            book = _grade_all(found, submissions, Path(tmp), copies_of, given, processes, echo,
                              timeout=timeout, cell_timeout=cell_timeout, jobs=jobs,
                              profile=profile, checks=checks)
            if folder_digest(submissions) != digest:
                for s in book.students:
                    s.notes.append("the submissions folder changed during grading (check it)")
                echo(f"warning: {submissions} changed while grading; grades come from the "
                     "copy taken at the start")
            _write_outputs(book, out, feedback_dir)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    echo(f"gradebook: {out}\nfeedback:  {feedback_dir}/")
    if processes.signum is not None:
        graded = [s.student for s in book.students]
        stopped = GradingInterrupted(processes.signum, graded,
                                     [s.student for s in found if s.student not in graded])
        echo(f"{stopped}\nrun `course grade` again to grade them")
        raise stopped
    return book


def _grade_all(found: list[Submission], submissions: Path, results_dir: Path,
               copies_of: list[Assignment], given: list[Assignment], processes: _Processes,
               echo: Callable[[str], None], **options) -> Gradebook:
    snapshot = results_dir / "submissions"
    shutil.copytree(submissions, snapshot, symlinks=True)  # graded from a private copy
    copies = [Submission(s.student, snapshot / s.path.relative_to(submissions),
                         [snapshot / n.relative_to(submissions) for n in s.notebooks])
              for s in found]
    tasks = [(s, nb) for s in copies for nb in s.notebooks]

    def one(task: tuple[Submission, Path]) -> NotebookRun:
        sub, nb = task
        if processes.signum is not None:
            return NotebookRun(sub.student, nb.name, "interrupted")
        try:
            run = run_notebook(sub, nb, results_dir, timeout=options["timeout"],
                               cell_timeout=options["cell_timeout"], profile=options["profile"],
                               extra_checks=options["checks"], assignments=copies_of,
                               processes=processes)
        except Exception as exc:  # a bug or a full disk: note it, grade the others
            run = NotebookRun(sub.student, nb.name, "crashed", notes=[
                f"{nb.name}: the grader failed on this notebook ({type(exc).__name__}: {exc})"])
        if run.status != "interrupted":
            passed = sum(r["passed"] for r in run.results.values())
            echo(f"  {sub.student:20} {run.notebook:28} {run.status:10} "
                 f"{passed}/{len(run.results)} checks passed  {run.wall_s:6.1f} s")
        return run

    with ThreadPoolExecutor(max_workers=max(1, options["jobs"])) as pool:
        runs = list(pool.map(one, tasks))
    stopped = {r.student for r in runs if r.status == "interrupted"}
    graded = [s for s in copies if s.student not in stopped]
    return _gradebook(graded, [r for r in runs if r.student not in stopped], given, copies_of)


def _gradebook(subs: list[Submission], runs: list[NotebookRun], given: list[Assignment],
               copies_of: list[Assignment] = ()) -> Gradebook:
    keys: list[str] = [k for a in given for k in a.keys]
    used = {r.assignment for r in runs}
    keys += [k for a in copies_of if a.name in used for k in a.keys]
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
            for folder, path in (("executed", run.executed), ("graded", run.graded)):
                if path is not None and path.exists():
                    target = (feedback_dir / folder / s.student / run.notebook).with_suffix(".ipynb")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
