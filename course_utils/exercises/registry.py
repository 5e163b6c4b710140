"""Automatic checks: ``check("00.sparsity", sparsity)`` tells a student how it went.

Each auto-checked exercise registers one *checker* under a key ``"NN.name"``
(``NN`` is the chapter). A checker receives the student's answer, tries it on
small cases, and raises :class:`Wrong` with what went wrong and a hint; it
returns ``None`` (or a short remark) when the answer is right. Checkers live in
one module per chapter, ``course_utils/exercises/chNN.py``, imported the first
time a key of that chapter is checked.

Where results go
    :func:`check` prints a message for the student. When the environment
    variable ``COURSE_GRADE_FILE`` is set, it also appends one JSON line per
    check to that file (a log for a student's own tools: ``course grade`` never
    reads it; it runs the checks itself, see ``course_tools.grading.answers``). When the course runner executes a
    chapter (``COURSE_RESULTS_FILE`` set, or ``COURSE_CHECK_STRICT=1``), a
    failing check raises :class:`CheckFailed`, so a solution that rots fails CI.

Example
-------
>>> from course_utils.exercises import check, evaluate
>>> import numpy as np
>>> def sparsity(matrix):
...     matrix = np.asarray(matrix)
...     return float((matrix == 0).mean())
>>> evaluate("00.sparsity", sparsity).passed
True
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

KEY_PATTERN = re.compile(r"^[A-Za-z0-9]+\.[A-Za-z0-9_.-]+$")
GRADE_FILE_ENV = "COURSE_GRADE_FILE"
STRICT_ENV = "COURSE_CHECK_STRICT"
EXTRA_CHECKS_ENV = "COURSE_EXTRA_CHECKS"
PASS_MARK, FAIL_MARK = "✔", "✘"


class Wrong(Exception):
    """Raised by a checker: ``Wrong(what happened, hint=how to fix it)``."""

    def __init__(self, problem: str, hint: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.hint = hint


class CheckFailed(AssertionError):
    """A check failed while the course runner executed a chapter (strict mode)."""


class UnknownExercise(LookupError):
    """``check`` was called with a key that no checker is registered under."""


@dataclass(frozen=True)
class Exercise:
    """One auto-checked exercise.

    ``right`` holds answers that must pass (the solution); ``wrong`` holds
    typical mistakes as ``(answer, phrase)`` pairs, where ``phrase`` must appear
    in the message the student gets. The test-suite tries both, for every key.
    """

    key: str
    title: str
    checker: Callable[[Any], str | None]
    points: float = 1.0
    right: tuple[Any, ...] = ()
    wrong: tuple[tuple[Any, str], ...] = ()


@dataclass
class Result:
    """The outcome of one check: what the student sees, and what the grader stores."""

    key: str
    passed: bool
    message: str
    points: float = 1.0
    status: str = field(default="")  # "passed", "wrong", "not done", "error"

    @property
    def earned(self) -> float:
        return self.points if self.passed else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "passed": self.passed, "status": self.status,
                "points": self.points, "earned": self.earned, "message": self.message}


_REGISTRY: dict[str, Exercise] = {}


def exercise(key: str, *, title: str, points: float = 1.0, right: Iterable[Any] = (),
             wrong: Iterable[tuple[Any, str]] = ()) -> Callable:
    """Register the decorated function as the checker of ``key``.

    Example
    -------
    >>> from course_utils.exercises.registry import Wrong, call, exercise
    >>> @exercise("doc.double", title="double a number", right=[lambda x: 2 * x],
    ...           wrong=[(lambda x: x + 2, "multiply")])
    ... def _check_double(answer):
    ...     if call(answer, 5) != 10:
    ...         raise Wrong("double(5) should be 10", hint="multiply by 2")
    """
    if not KEY_PATTERN.match(key):
        raise ValueError(f"exercise key {key!r} must look like '03.recall' (chapter.name)")

    def register(checker: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
        if key in _REGISTRY and _REGISTRY[key].checker.__qualname__ != checker.__qualname__:
            raise ValueError(f"exercise {key!r} is registered twice "
                             f"({_REGISTRY[key].checker.__module__} and {checker.__module__})")
        _REGISTRY[key] = Exercise(key, title, checker, float(points), tuple(right), tuple(wrong))
        return checker

    return register


def _chapter_module(key: str) -> str:
    return f"course_utils.exercises.ch{key.split('.', 1)[0]}"


def _import_extra_checks() -> None:
    """Import the check files named in ``COURSE_EXTRA_CHECKS`` (``os.pathsep``-separated)."""
    for entry in filter(None, os.environ.get(EXTRA_CHECKS_ENV, "").split(os.pathsep)):
        load_checks(entry)


def load_checks(path: str | Path) -> None:
    """Import a Python file of ``@exercise`` checkers (an instructor's own exercises)."""
    path = Path(path).resolve()
    name = f"course_extra_checks_{abs(hash(str(path)))}"
    if name in sys.modules:
        return
    if not path.is_file():
        raise FileNotFoundError(f"check file {path} does not exist (named in {EXTRA_CHECKS_ENV} "
                                "or --checks)")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


def get(key: str) -> Exercise:
    """The :class:`Exercise` registered under ``key`` (importing its chapter's module)."""
    if key not in _REGISTRY:
        module = _chapter_module(key)
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)
    if key not in _REGISTRY:
        _import_extra_checks()
    if key not in _REGISTRY:
        prefix = key.split(".", 1)[0] + "."
        same = sorted(k for k in _REGISTRY if k.startswith(prefix))
        known = f"; keys of this chapter: {', '.join(same)}" if same else ""
        raise UnknownExercise(f"no check is registered under {key!r}{known} "
                              f"(checks live in {_chapter_module(key).replace('.', '/')}.py)")
    return _REGISTRY[key]


def load_all() -> dict[str, Exercise]:
    """Import every chapter's check module; return all registered exercises."""
    import pkgutil

    import course_utils.exercises as package

    for info in pkgutil.iter_modules(package.__path__):
        if re.fullmatch(r"ch\d\d", info.name):
            importlib.import_module(f"{package.__name__}.{info.name}")
    _import_extra_checks()
    return dict(sorted(_REGISTRY.items()))


# --- helpers for checkers ----------------------------------------------------

def describe(value: Any, limit: int = 60) -> str:
    """A short, readable description of a value for a message."""
    if isinstance(value, np.ndarray):
        if value.size <= 8:
            return f"array({value.tolist()})"
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _call_text(fn: Callable, args: tuple, kwargs: dict) -> str:
    name = getattr(fn, "__name__", "your function")
    parts = [describe(a, 40) for a in args] + [f"{k}={describe(v, 40)}" for k, v in kwargs.items()]
    return f"{name}({', '.join(parts)})"


def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the student's ``fn``; an exception becomes a :class:`Wrong` that shows the call.

    ``NotImplementedError`` is passed through: it means "not done yet".
    """
    if not callable(fn):
        raise Wrong(f"expected a function, got {describe(fn)}",
                    hint="pass the function itself, without calling it: check(key, my_function)")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as exc:  # the student's code raised: say where
        raise Wrong(f"{_call_text(fn, args, kwargs)} raised {type(exc).__name__}: {exc}",
                    hint="run that call yourself in a new cell to see the full traceback") from exc


def require_number(value: Any, what: str) -> float:
    """``value`` as a float, or :class:`Wrong` explaining that a number was expected."""
    if value is None:
        raise Wrong(f"{what} returned None", hint="did you forget the `return` statement?")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        if isinstance(value, np.ndarray) and value.shape == ():
            return float(value)
        raise Wrong(f"{what} returned {describe(value)}, not a single number",
                    hint="return one number (for example with float(...))")
    return float(value)


# --- what a student calls ----------------------------------------------------

def _message(ex: Exercise, passed: bool, status: str, text: str, hint: str = "") -> str:
    head = f"{ex.key} ({ex.title})"
    if passed:
        return f"{PASS_MARK} {head}: correct, well done!" + (f" {text}" if text else "")
    lines = [f"{FAIL_MARK} {head}: {status}.", f"  {text}"]
    if hint:
        lines.append(f"  Hint: {hint}")
    return "\n".join(lines)


def evaluate(key: str, answer: Any) -> Result:
    """Run the checker of ``key`` on ``answer``; return a :class:`Result` (nothing printed)."""
    ex = get(key)
    try:
        remark = ex.checker(answer)
    except Wrong as exc:
        return Result(key, False, _message(ex, False, "not yet", exc.problem, exc.hint),
                      ex.points, "wrong")
    except NotImplementedError:
        return Result(key, False, _message(
            ex, False, "not done yet",
            "your code still raises NotImplementedError",
            "replace the line `raise NotImplementedError  # your code here` with your answer, "
            "run that cell, then this one again"), ex.points, "not done")
    except Exception as exc:  # anything else the answer made go wrong
        return Result(key, False, _message(
            ex, False, "not yet", f"checking your answer raised {type(exc).__name__}: {exc}",
            "check that your answer has the type the exercise asks for"), ex.points, "error")
    return Result(key, True, _message(ex, True, "passed", remark or ""), ex.points, "passed")


def strict_mode() -> bool:
    """Should a failing check raise? ``COURSE_CHECK_STRICT`` decides; by default only
    when the course runner executes a chapter (``COURSE_RESULTS_FILE`` set) and no
    grader is collecting results."""
    value = os.environ.get(STRICT_ENV, "").strip().lower()
    if value in {"1", "true", "yes"}:
        return True
    if value in {"0", "false", "no"}:
        return False
    return bool(os.environ.get("COURSE_RESULTS_FILE")) and not os.environ.get(GRADE_FILE_ENV)


def _append_grade(result: Result) -> None:
    path = os.environ.get(GRADE_FILE_ENV)
    if not path:
        return
    line = json.dumps(result.to_json(), ensure_ascii=False) + "\n"
    with open(path, "a", encoding="utf-8") as fh:  # one write per line: no torn records
        fh.write(line)
        fh.flush()


def check(key: str, answer: Any) -> None:
    """Check ``answer`` for exercise ``key`` and print a specific, kind message.

    Parameters
    ----------
    key : str
        The exercise, ``"NN.name"`` (shown in the exercise's check cell).
    answer : object
        What the exercise asks for: usually your function itself (not called).

    Example
    -------
    >>> import numpy as np
    >>> check("00.sparsity", lambda m: float((np.asarray(m) == 0).mean()))  # doctest: +ELLIPSIS
    ✔ 00.sparsity (...): correct, well done!...
    """
    result = evaluate(key, answer)
    print(result.message, flush=True)
    _append_grade(result)
    if not result.passed and strict_mode():
        raise CheckFailed(f"the check {key!r} failed on the chapter's own solution:\n"
                          f"{result.message}")
