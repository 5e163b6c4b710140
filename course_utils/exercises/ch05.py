"""Checks for chapter 05 (Spark's ALS).

``05.als_wr_user``: the factors of one user in Spark's ALS ("ALS-WR"), given the
factors of the items the user rated: ``(G_uᵀ G_u + λ n_u I)⁻¹ G_uᵀ r_u``.

Example
-------
>>> from course_utils.exercises import evaluate
>>> evaluate("05.als_wr_user", lambda G_u, r_u, reg: G_u[0]).passed
False
"""
from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises.registry import Wrong, call, exercise


def _als_wr_user(G_u, r_u, reg):
    """The solution: a ridge regression whose penalty grows with the user's ratings."""
    G_u, r_u = np.asarray(G_u, float), np.asarray(r_u, float)
    n_u, k = G_u.shape
    return np.linalg.solve(G_u.T @ G_u + reg * n_u * np.eye(k), G_u.T @ r_u)


# Typical slips, kept as test cases: each must get the hint that names it.
def _plain_ridge(G_u, r_u, reg):
    G_u, r_u = np.asarray(G_u, float), np.asarray(r_u, float)
    return np.linalg.solve(G_u.T @ G_u + reg * np.eye(G_u.shape[1]), G_u.T @ r_u)


def _least_squares(G_u, r_u, reg):
    return np.linalg.lstsq(np.asarray(G_u, float), np.asarray(r_u, float), rcond=None)[0]


def _penalty_k(G_u, r_u, reg):  # the number of factors instead of the number of ratings
    G_u, r_u = np.asarray(G_u, float), np.asarray(r_u, float)
    k = G_u.shape[1]
    return np.linalg.solve(G_u.T @ G_u + reg * k * np.eye(k), G_u.T @ r_u)


_CASES = [
    ([[0.5, 1.0], [1.5, -0.5], [0.2, 0.3], [1.0, 1.0]], [8.0, 6.0, 7.0, 9.0], 0.1,
     "four ratings, rank 2"),
    ([[1.0, 0.0, 0.5], [0.3, 0.8, -0.2], [0.9, 0.1, 0.4], [0.0, 1.2, 0.7], [0.6, 0.6, 0.6],
      [1.1, -0.4, 0.2]], [5.0, 7.0, 6.0, 8.0, 7.0, 4.0], 0.5, "six ratings, rank 3"),
]

_VARIANTS = [
    (_plain_ridge, "Spark scales the penalty by the number of ratings of the user: "
                   "λ n_u I, not λ I (the ALS-WR weighting)"),
    (_least_squares, "the penalty is missing: add λ n_u to the diagonal of G_uᵀ G_u"),
    (_penalty_k, "n_u is the number of ratings of the user (rows of G_u), not the rank"),
]


@exercise("05.als_wr_user", title="one user's factors in Spark's ALS (ALS-WR)",
          right=[_als_wr_user],
          wrong=[(_plain_ridge, "λ n_u I"), (_least_squares, "penalty is missing"),
                 (_penalty_k, "not the rank")])
def check_als_wr_user(answer: Any) -> str:
    for G_u, r_u, reg, about in _CASES:
        shown = f"als_wr_user(G_u of shape {np.shape(G_u)}, r_u={r_u}, reg={reg})"
        got = call(answer, np.array(G_u), np.array(r_u), reg)
        if got is None:
            raise Wrong(f"{shown} returned None", hint="did you forget the `return` statement?")
        got = np.asarray(got, dtype=float)
        k = np.shape(G_u)[1]
        if got.shape != (k,):
            raise Wrong(f"{shown} returned shape {got.shape}; expected ({k},), one value per factor",
                        hint="solve a k × k system: (G_uᵀ G_u + λ n_u I) h = G_uᵀ r_u")
        want = _als_wr_user(G_u, r_u, reg)
        if np.allclose(got, want, rtol=1e-8, atol=1e-10):
            continue
        for variant, hint in _VARIANTS:
            if np.allclose(got, variant(G_u, r_u, reg), rtol=1e-8, atol=1e-10):
                raise Wrong(f"{shown} ({about}) returned {np.round(got, 4).tolist()}", hint=hint)
        raise Wrong(f"{shown} ({about}) returned {np.round(got, 4).tolist()}; expected "
                    f"{np.round(want, 4).tolist()}",
                    hint="h_u = solve(G_uᵀ G_u + λ n_u I, G_uᵀ r_u), with n_u = len(r_u)")
    return ("course_utils.mf.ALSMatrixFactorization(weighted_reg=True) solves this for all "
            "users at once.")
