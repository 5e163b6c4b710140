"""Checks for chapter 00 (getting started).

Example
-------
>>> from course_utils.exercises import evaluate
>>> evaluate("00.sparsity", lambda m: 0.5).passed
False
"""
from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises.registry import Wrong, call, exercise, require_number

# Two small matrices: 0 means "not scored". The second is a list of lists of
# another shape, so an answer that only works on the first one is caught.
_FIRST = np.array([[0, 3, 0, 0],
                   [5, 0, 0, 1],
                   [0, 0, 0, 0]])          # 9 missing out of 12 → 0.75
_SECOND = [[7, 0, 2],
           [0, 10, 4]]                     # 2 missing out of 6 → 1/3


def _sparsity(matrix: Any) -> float:
    matrix = np.asarray(matrix)
    return float((matrix == 0).sum() / matrix.size)


# Typical slips, kept as test cases: each must get the hint that names it.
def _density(matrix):
    matrix = np.asarray(matrix)
    return float((matrix != 0).sum() / matrix.size)


def _percent(matrix):
    return 100 * _sparsity(matrix)


def _count(matrix):
    return int((np.asarray(matrix) == 0).sum())


def _per_row(matrix):
    matrix = np.asarray(matrix)
    return float((matrix == 0).sum() / len(matrix))


def _no_return(matrix):
    (np.asarray(matrix) == 0).sum() / np.asarray(matrix).size


def _hard_coded(matrix):
    return 0.75


def _diagnose(got: float, expected: float, matrix: Any) -> str:
    m = np.asarray(matrix)
    zeros = int((m == 0).sum())
    if np.isclose(got, 1 - expected):
        return ("you returned the share of *observed* scores (the density); sparsity is the "
                "share of *missing* ones, 1 - density")
    if np.isclose(got, 100 * expected):
        return "return a fraction between 0 and 1, not a percentage"
    if np.isclose(got, zeros):
        return "that is the number of missing cells: divide it by the number of cells, matrix.size"
    if np.isclose(got, zeros / len(m)):
        return ("len(matrix) counts rows only; matrix.size counts every cell "
                "(rows × columns)")
    return "count the cells equal to 0, (matrix == 0).sum(), and divide by matrix.size"


@exercise("00.sparsity", title="sparsity of a rating matrix",
          right=[_sparsity],
          wrong=[(_density, "density"), (_percent, "percentage"), (_count, "matrix.size"),
                 (_per_row, "rows"), (_no_return, "return"), (_hard_coded, "list of lists")])
def check_sparsity(answer: Any) -> str:
    got = require_number(call(answer, _FIRST.copy()), "sparsity(matrix)")
    expected = _sparsity(_FIRST)
    if not np.isclose(got, expected):
        raise Wrong(f"on a 3×4 matrix with 9 zeros, sparsity(matrix) returned {got:g}; "
                    f"expected {expected:g}", hint=_diagnose(got, expected, _FIRST))
    got = require_number(call(answer, [row[:] for row in _SECOND]), "sparsity(matrix)")
    expected = _sparsity(_SECOND)
    if not np.isclose(got, expected):
        raise Wrong(f"on the 2×3 list of lists {_SECOND}, sparsity returned {got:g}; "
                    f"expected {expected:.4g}",
                    hint="use the matrix you are given (np.asarray turns a list of lists into "
                         "an array), not numbers from the first example")
    return ("On the thesis's data, 80 M entries for 283,044 users × 14,478 anime, "
            "sparsity is about 0.98: almost every score is missing.")
