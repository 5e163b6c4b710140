"""Student notebooks from the chapters: ``course student`` (or ``make student``).

A chapter ``notebooks/NN_name.md`` holds exercises *and* their solutions. Its
student version ``student/NN_name.ipynb`` is the same notebook with:

- every ``solution-start`` … ``solution-end`` block removed, with everything in
  it (text and code cells), and every ``{solution}`` directive removed;
- every code cell tagged ``solution`` removed;
- every code cell with a line ``# solution`` cut at that line: the student sees
  what is above it and ``raise NotImplementedError  # your code here``.

Everything else is copied unchanged. Generation is deterministic (cell ids
are derived from the cell contents), so ``course student --check`` (and the
test-suite) can tell when a committed student notebook is stale.

Example
-------
>>> from course_tools.grading.student import cut_solution
>>> print(cut_solution("def f(x):\\n    # solution\\n    return 2 * x"))
def f(x):
    raise NotImplementedError  # your code here
"""
from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from typing import TYPE_CHECKING, Callable

from course_utils import paths

if TYPE_CHECKING:  # nbformat is imported where it is used: it is slow to import
    import nbformat

STUB = "raise NotImplementedError  # your code here"
CUT_MARKER = "# solution"
SOLUTION_TAG = "solution"
FORMATS = ("ipynb", "md")

# A directive's opening line in MyST: ```{name} argument   or   :::{name} argument
_DIRECTIVE = re.compile(r"^\s*(?P<fence>`{3,}|:{3,})\{(?P<name>[\w-]+)\}\s*(?P<arg>.*?)\s*$")
_CHECK_CALL = re.compile(r"""(?<![\w.])check\(\s*["']([^"']+)["']""")


def student_dir() -> Path:
    """Where the student notebooks are written (``student/`` in the repository)."""
    return paths.repo_root() / "student"


def _directive(line: str) -> tuple[str, str, str] | None:
    """``(fence, name, argument)`` if ``line`` opens a MyST directive."""
    match = _DIRECTIVE.match(line)
    return (match["fence"], match["name"], match["arg"]) if match else None


def _closes(line: str, fence: str) -> bool:
    """Does ``line`` close a directive opened with ``fence``?"""
    stripped = line.strip()
    return (len(stripped) >= len(fence) and set(stripped) == {fence[0]})


def cut_solution(source: str) -> str:
    """Cut a code cell at its ``# solution`` line and put the stub in its place.

    The stub keeps the indentation of the marker, so a cut inside a function
    body stays valid Python.
    """
    lines = source.split("\n")
    for i, line in enumerate(lines):
        if line.strip() == CUT_MARKER:
            indent = line[: len(line) - len(line.lstrip())]
            return "\n".join(lines[:i] + [indent + STUB])
    return source


def has_cut(source: str) -> bool:
    """Does a code cell contain the ``# solution`` marker line?"""
    return any(line.strip() == CUT_MARKER for line in source.split("\n"))


class _SolutionFilter:
    """Drops solution blocks from a stream of cells (a block may span several cells)."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.state = "out"  # "out", "gated" (inside solution-start…), "closing", "directive"
        self.fence = ""

    def markdown(self, text: str) -> str:
        kept: list[str] = []
        for line in text.split("\n"):
            opened = _directive(line)
            if self.state == "out":
                if opened and opened[1] == "solution-start":
                    self.state = "gated"
                elif opened and opened[1] == "solution":
                    self.state, self.fence = "directive", opened[0]
                else:
                    kept.append(line)
            elif self.state == "gated":
                if opened and opened[1] == "solution-end":
                    self.state, self.fence = "closing", opened[0]
                elif opened and opened[1] in ("solution-start", "exercise-start", "solution"):
                    raise ValueError(f"{self.where}: {{{opened[1]}}} {opened[2]} starts inside "
                                     "a solution block: the solution above it is never closed "
                                     "(add ```{solution-end}``` and a closing ```)")
            elif self.state == "closing":  # the solution-end directive's own closing fence
                if _closes(line, self.fence):
                    self.state = "out"
            elif self.state == "directive":
                if _closes(line, self.fence):
                    self.state = "out"
        return _tidy("\n".join(kept)) if len(kept) != len(text.split("\n")) else text

    @property
    def inside(self) -> bool:
        return self.state != "out"

    def finish(self) -> None:
        if self.inside:
            raise ValueError(f"{self.where}: a solution block is never closed: add "
                             "```{solution-end}``` (followed by a closing ```) after it")


def _tidy(text: str) -> str:
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")


def _cell_id(cell: nbformat.NotebookNode, seen: dict[str, int]) -> str:
    digest = hashlib.sha1((cell.cell_type + "\0" + cell.source).encode()).hexdigest()[:8]
    seen[digest] = seen.get(digest, 0) + 1
    return digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"


def student_notebook(source: Path, cut: Callable[[str], str] = cut_solution) -> nbformat.NotebookNode:
    """The student version of the chapter ``source`` (a MyST ``.md`` notebook).

    ``cut`` turns each code cell's source into the student's (default
    :func:`cut_solution`; the nbgrader export marks solution regions instead).
    """
    import jupytext

    source = Path(source)
    nb = jupytext.read(source)
    where = _display(source)
    drop = _SolutionFilter(where)
    cells: list[nbformat.NotebookNode] = []
    removed = False  # was something removed since the last kept cell?
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "markdown":
            text = drop.markdown(cell.source)
            if not text.strip():
                removed = True
            elif removed and cells and cells[-1].cell_type == "markdown":
                cells[-1].source += "\n\n" + text  # join text that a removal split in two
            else:
                cell = copy.deepcopy(cell)
                cell.source = text
                cells.append(cell)
                removed = False
            continue
        if drop.inside or SOLUTION_TAG in tags:
            removed = True
            continue
        removed = False
        cell = copy.deepcopy(cell)
        if cell.cell_type == "code":
            cell.source = cut(cell.source)
        cells.append(cell)
    drop.finish()
    seen: dict[str, int] = {}
    for cell in cells:
        cell["id"] = _cell_id(cell, seen)
    nb.cells = cells
    nb.metadata["course"] = {"source": where, "generated_by": "course student"}
    return nb


def _display(source: Path) -> str:
    try:
        return str(Path(source).resolve().relative_to(paths.repo_root()))
    except ValueError:
        return str(source)


def render(nb: nbformat.NotebookNode, fmt: str) -> str:
    """The text of ``nb`` as ``ipynb`` (no outputs) or ``md`` (MyST, opens with jupytext)."""
    import jupytext
    import nbformat

    if fmt == "ipynb":
        out = copy.deepcopy(nb)
        out.metadata.get("jupytext", {}).pop("text_representation", None)
        if not out.metadata.get("jupytext", True):
            out.metadata.pop("jupytext")
        out.nbformat, out.nbformat_minor = 4, 5
        nbformat.validate(out)
        return nbformat.writes(out, version=4) + "\n"
    if fmt == "md":
        return jupytext.writes(nb, fmt="md:myst")
    raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")


def generate(chapters: list[Path] | None = None, out_dir: Path | None = None,
             formats: tuple[str, ...] = ("ipynb",)) -> dict[Path, str]:
    """The student files of ``chapters`` (default: all), in memory: ``{path: text}``."""
    out_dir = Path(out_dir) if out_dir else student_dir()
    chapters = paths.chapters() if chapters is None else chapters
    files = {}
    for source in chapters:
        nb = student_notebook(source)
        for fmt in formats:
            files[out_dir / f"{Path(source).stem}.{fmt}"] = render(nb, fmt)
    return files


def write(files: dict[Path, str]) -> list[Path]:
    """Write generated files; return those whose content changed."""
    changed = []
    for path, text in files.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def stale(files: dict[Path, str], out_dir: Path | None = None) -> list[str]:
    """Problems between ``files`` (freshly generated) and what is on disk.

    Also reports student notebooks on disk that no chapter generates any more.
    """
    out_dir = Path(out_dir) if out_dir else student_dir()
    problems = []
    for path, text in files.items():
        if not path.exists():
            problems.append(f"{_display(path)} is missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{_display(path)} is stale")
    extra = [p for pattern in ("*.ipynb", "[0-9][0-9]_*.md") for p in out_dir.glob(pattern)
             if p not in files]
    problems += [f"{_display(p)} is generated by no chapter (delete it?)" for p in sorted(extra)]
    return problems


# --- the exercises a chapter holds (used by the tests and the grader) --------

@dataclass
class ExerciseInfo:
    """One ``exercise-start`` block of a chapter, as written in its source."""

    label: str
    line: int
    checks: list[str] = field(default_factory=list)
    has_code: bool = False
    has_solution: bool = False
    dropdown: bool = False


def outline(source: Path) -> tuple[list[ExerciseInfo], list[str]]:
    """The exercises of a chapter source, and the problems found in their format."""
    text = Path(source).read_text(encoding="utf-8")
    where = _display(Path(source))
    chapter = Path(source).stem.split("_", 1)[0]
    exercises: dict[str, ExerciseInfo] = {}
    problems: list[str] = []
    current: ExerciseInfo | None = None
    in_solution: str | None = None
    in_code, code_start, code_lines, code_fence = False, 0, [], "```"
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if in_code:
            if _closes(line, code_fence):
                _code_cell(code_lines, code_start, current, in_solution, chapter, where, problems)
                in_code = False
            else:
                code_lines.append(line)
            continue
        opened = _directive(line)
        if not opened:
            continue
        name, arg = opened[1], opened[2]
        if name == "code-cell":
            in_code, code_start, code_lines, code_fence = True, number, [], opened[0]
        elif name == "exercise-start":
            label = _option(lines, number, "label")
            if current is not None:
                problems.append(f"{where}:{number}: exercise-start inside exercise {current.label!r}")
            if not label:
                problems.append(f"{where}:{number}: exercise-start without a :label:")
                label = f"<line {number}>"
            elif not label.startswith(f"ex-{chapter}-"):
                problems.append(f"{where}:{number}: label {label!r} should start with 'ex-{chapter}-'")
            current = exercises.setdefault(label, ExerciseInfo(label, number))
        elif name == "exercise-end":
            if current is None:
                problems.append(f"{where}:{number}: exercise-end without exercise-start")
            current = None
        elif name == "solution-start":
            if arg not in exercises:
                problems.append(f"{where}:{number}: solution-start refers to {arg!r}, "
                                "which is not the label of an exercise above it")
            else:
                exercises[arg].has_solution = True
                exercises[arg].dropdown = _option(lines, number, "class") == "dropdown"
            in_solution = arg
        elif name == "solution-end":
            in_solution = None
        elif name == "solution":
            if arg in exercises:
                exercises[arg].has_solution = True
                exercises[arg].dropdown = _option(lines, number, "class") == "dropdown"
    if current is not None:
        problems.append(f"{where}: exercise {current.label!r} has no exercise-end")
    for ex in exercises.values():
        if not ex.has_solution:
            problems.append(f"{where}:{ex.line}: exercise {ex.label!r} has no solution block")
        elif not ex.dropdown:
            problems.append(f"{where}:{ex.line}: the solution of {ex.label!r} needs "
                            "':class: dropdown' so the book shows it collapsed")
    return list(exercises.values()), problems


def _option(lines: list[str], opening: int, name: str) -> str:
    """The value of ``:name:`` among the options right after a directive's opening line."""
    for line in lines[opening:]:
        match = re.match(r"^\s*:(\w[\w-]*):\s*(.*?)\s*$", line)
        if not match:
            return ""
        if match[1] == name:
            return match[2]
    return ""


def _code_cell(code: list[str], line: int, current: ExerciseInfo | None, in_solution: str | None,
               chapter: str, where: str, problems: list[str]) -> None:
    tags = next((re.findall(r"[\w-]+", l.split(":", 2)[2]) for l in code
                 if l.strip().startswith(":tags:")), [])
    body = "\n".join(code)
    if current is not None:
        current.has_code = True
        for key in _CHECK_CALL.findall(body):
            current.checks.append(key)
            if key.split(".", 1)[0] != chapter:
                problems.append(f"{where}:{line}: check key {key!r} should start with '{chapter}.'")
    if has_cut(body):
        if current is None:
            problems.append(f"{where}:{line}: a '# solution' cut outside an exercise block")
        if "hide-input" not in tags:
            problems.append(f"{where}:{line}: a cell cut at '# solution' needs ':tags: [hide-input]' "
                            "so the book shows its solution collapsed")
    if SOLUTION_TAG in tags and in_solution is None:
        problems.append(f"{where}:{line}: a cell tagged 'solution' outside a solution block "
                        "(the book would show it open)")


def check_keys(source: Path) -> list[str]:
    """Every key a notebook passes to ``check(...)``, in order (MyST or ``.ipynb``)."""
    source = Path(source)
    if source.suffix == ".ipynb":
        import nbformat

        nb = nbformat.read(source, as_version=4)
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    else:
        text = source.read_text(encoding="utf-8")
    return list(dict.fromkeys(_CHECK_CALL.findall(text)))
