"""Exercises: automatic checks for students, student notebooks and grading for instructors.

In a chapter, an auto-checked exercise ends with::

    from course_utils.exercises import check
    check("00.sparsity", sparsity)

which prints ``✔ ... correct`` or what went wrong with a hint. The modules:

``registry``
    :func:`check`, :func:`evaluate` and the ``@exercise`` decorator checkers use.
``chNN``
    The checkers of chapter ``NN`` (one module per chapter).
``student``
    Student notebooks from the chapters (``course student``).
``grade``
    Grading a folder of submitted notebooks (``course grade``).
``answers``
    What decides the points: the student's answer cells in the instructor's copy.
``handout``
    What students get: notebooks and library, no solutions (``course student --handout``).

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
