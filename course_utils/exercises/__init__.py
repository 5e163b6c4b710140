"""Exercises: the automatic checks a student calls from the chapters.

In a chapter, an auto-checked exercise ends with::

    from course_utils.exercises import check
    check("00.sparsity", sparsity)

which prints ``✔ ... correct`` or what went wrong with a hint. The modules:

``registry``
    :func:`check`, :func:`evaluate` and the ``@exercise`` decorator checkers use.
``chNN``
    The checkers of chapter ``NN`` (one module per chapter).

Student notebooks, hand-outs and grading for instructors are machinery, in
:mod:`course_tools.grading`.

Example
-------
>>> from course_utils.exercises import evaluate
>>> evaluate("00.sparsity", lambda matrix: 0.0).status
'wrong'
"""
from course_utils.exercises.registry import (
    CheckFailed,
    Exercise,
    Result,
    UnknownExercise,
    Wrong,
    call,
    check,
    evaluate,
    exercise,
    get,
    load_all,
    load_checks,
)

__all__ = ["check", "evaluate", "exercise", "Wrong", "call", "get", "load_all", "load_checks",
           "Exercise", "Result", "CheckFailed", "UnknownExercise"]
