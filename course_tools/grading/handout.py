"""The hand-out: what an instructor gives students, without the solutions.

``course student --handout DIR`` writes a folder that a student can install and
work in, and that holds no solution:

- ``notebooks/NN_name.ipynb``: the student notebooks (solutions removed, stubs in
  place), made from the chapters as ``course student`` makes them;
- ``course_utils/``: the library the notebooks import, the data generator
  included, with the checkers of the exercises (``exercises/chNN``) as Python
  bytecode only (``chNN.pyc``): their reference solutions are not there as text;
- ``course_tools/``: the ``course`` command, Spark's session and the doctor, which
  some chapters call (it holds no solution);
- ``pyproject.toml`` (the course's, limited to the Python version the bytecode is
  for) and ``environment.yml``, so ``pip install -e .`` installs it, and a
  ``README.md`` that says how to start and how to hand work in.

It leaves out the chapter sources (``notebooks/*.md``, where the solutions are),
the book, the tests and the repository's history.

Example
-------
>>> from course_tools.grading.handout import HANDOUT_README
>>> "pip install -e ." in HANDOUT_README
True
"""
from __future__ import annotations

import py_compile
import re
import shutil
import sys
from pathlib import Path

from course_utils import paths
from course_tools.grading import student

HANDOUT_README = """# {title}: the exercises

This folder holds the course's notebooks with the exercises to do, and the
library they use (`course_utils`, with the synthetic data generator).

## Setting up (once)

You need Python {python} and Java 17 (for the Spark chapter).

```bash
python{python} -m venv .venv
.venv/bin/pip install -e .
.venv/bin/jupyter lab notebooks/
```

## Working

Open a notebook in `notebooks/`, run it from the top, and fill in each cell that
ends with `raise NotImplementedError  # your code here`. The cell below it,
`check("NN.name", answer)`, tells you right away whether your answer is right,
with a hint when it is not. Write each answer in its own cell (the one with the
stub): the grader runs only those cells, in a fresh copy of the notebook, so a
helper defined in another cell is not there when your answer is graded, and an
answer may not import `course_utils` (the library holds reference
implementations) or change a library.

## Handing in

Save the notebook and hand in the `.ipynb` file as your instructor asks (keep its
name). If your notebook reads files of your own, hand in a folder with the
notebook and those files.
"""


class HandoutError(ValueError):
    """The hand-out cannot be written there (a folder that is not empty...)."""


def _project_file(text: str) -> str:
    """The course's ``pyproject.toml`` for the hand-out: the checkers' bytecode is
    package data, and the Python version is the one the bytecode was made for."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    text, n = re.subn(r'(?m)^requires-python\s*=.*$', f'requires-python = "=={version}.*"', text)
    if not n:
        raise HandoutError("pyproject.toml has no requires-python line to pin")
    match = re.search(r'(?m)^course_utils\s*=\s*\[(.*)\]\s*$', text)
    if match:
        entries = match[1].strip().rstrip(",")
        text = (text[:match.start()] + f'course_utils = [{entries}, "exercises/*.pyc"]'
                + text[match.end():])
    else:
        text += '\n[tool.setuptools.package-data]\ncourse_utils = ["exercises/*.pyc"]\n'
    return text


def _copy_library(target: Path) -> list[Path]:
    """Copy ``course_utils`` into ``target``; checkers as bytecode only."""
    import course_utils

    source = Path(course_utils.__file__).resolve().parent
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    compiled = []
    for checker in sorted((target / "exercises").glob("ch[0-9][0-9].py")):
        pyc = checker.with_suffix(".pyc")
        py_compile.compile(str(checker), cfile=str(pyc), dfile=f"course_utils/exercises/"
                           f"{checker.name}", doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
        checker.unlink()
        compiled.append(pyc)
    return compiled


def _copy_tools(target: Path) -> None:
    """Copy ``course_tools`` (the ``course`` command, Spark's session, the doctor): the
    chapters call some of it, and none of it holds a solution."""
    import course_tools

    source = Path(course_tools.__file__).resolve().parent
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def write_handout(out_dir: Path, chapters: list[Path] | None = None) -> list[Path]:
    """Write the hand-out into ``out_dir`` (new or empty); return the files written."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise HandoutError(f"{out_dir} is not empty: give a new folder for the hand-out")
    root = paths.repo_root()
    out_dir.mkdir(parents=True, exist_ok=True)
    notebooks = student.generate(chapters, out_dir / "notebooks", ("ipynb",))
    student.write(notebooks)
    _copy_library(out_dir / "course_utils")
    _copy_tools(out_dir / "course_tools")
    (out_dir / "pyproject.toml").write_text(
        _project_file((root / "pyproject.toml").read_text(encoding="utf-8")), encoding="utf-8")
    if (root / "environment.yml").exists():
        shutil.copy2(root / "environment.yml", out_dir / "environment.yml")
    title = "Deep Learning for Recommender Systems"
    (out_dir / "README.md").write_text(HANDOUT_README.format(
        title=title, python=f"{sys.version_info.major}.{sys.version_info.minor}"),
        encoding="utf-8")
    (out_dir / "data").mkdir(exist_ok=True)
    return sorted(p for p in out_dir.rglob("*") if p.is_file())
