"""Checks for chapter 04 (matrix factorization).

``04.sgd_step``: one SGD update for one rating (eqs. 4.3–4.5 with the biases of
Koren et al.), returning the new ``(g_i, h_u, b_u, b_i)``.

Example
-------
>>> from course_utils.exercises import evaluate
>>> evaluate("04.sgd_step", lambda r, g, h, b_u, b_i, mu, lr, reg: (g, h, b_u, b_i)).passed
False
"""
from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises.registry import Wrong, call, exercise


def _step(r, g, h, b_u, b_i, mu, lr, reg):
    """The solution: both vectors move with the values from before the step."""
    g, h = np.asarray(g, float), np.asarray(h, float)
    e = r - (mu + b_u + b_i + g @ h)                       # eq. 4.3
    return (g + lr * (e * h - reg * g),                    # eq. 4.4
            h + lr * (e * g - reg * h),                    # eq. 4.5
            b_u + lr * (e - reg * b_u),
            b_i + lr * (e - reg * b_i))


# Typical slips, kept as test cases: each must get the hint that names it.
def _sequential(r, g, h, b_u, b_i, mu, lr, reg):  # h_u updated with the *new* g_i
    g, h = np.asarray(g, float), np.asarray(h, float)
    e = r - (mu + b_u + b_i + g @ h)
    g_new = g + lr * (e * h - reg * g)
    return g_new, h + lr * (e * g_new - reg * h), b_u + lr * (e - reg * b_u), b_i + lr * (e - reg * b_i)


def _wrong_sign(r, g, h, b_u, b_i, mu, lr, reg):  # e = prediction - rating
    g, h = np.asarray(g, float), np.asarray(h, float)
    e = (mu + b_u + b_i + g @ h) - r
    return g + lr * (e * h - reg * g), h + lr * (e * g - reg * h), b_u + lr * (e - reg * b_u), b_i + lr * (e - reg * b_i)


def _no_bias_in_error(r, g, h, b_u, b_i, mu, lr, reg):  # eq. 4.3 without mu + b_u + b_i
    g, h = np.asarray(g, float), np.asarray(h, float)
    e = r - g @ h
    return g + lr * (e * h - reg * g), h + lr * (e * g - reg * h), b_u + lr * (e - reg * b_u), b_i + lr * (e - reg * b_i)


def _plus_reg(r, g, h, b_u, b_i, mu, lr, reg):  # the penalty pushes away from 0
    g, h = np.asarray(g, float), np.asarray(h, float)
    e = r - (mu + b_u + b_i + g @ h)
    return g + lr * (e * h + reg * g), h + lr * (e * g + reg * h), b_u + lr * (e + reg * b_u), b_i + lr * (e + reg * b_i)


def _swapped(r, g, h, b_u, b_i, mu, lr, reg):  # g moved along g, h along h
    g, h = np.asarray(g, float), np.asarray(h, float)
    e = r - (mu + b_u + b_i + g @ h)
    return g + lr * (e * g - reg * g), h + lr * (e * h - reg * h), b_u + lr * (e - reg * b_u), b_i + lr * (e - reg * b_i)


def _biases_frozen(r, g, h, b_u, b_i, mu, lr, reg):
    g, h = np.asarray(g, float), np.asarray(h, float)
    e = r - (mu + b_u + b_i + g @ h)
    return g + lr * (e * h - reg * g), h + lr * (e * g - reg * h), b_u, b_i


_CASES = [
    (8.0, [0.5, -0.2], [0.3, 0.4], 0.2, -0.1, 7.0, 0.1, 0.05, "a rating above the prediction"),
    (3.0, [1.0, 0.5, -0.5], [0.2, -0.3, 0.8], -0.5, 0.4, 6.5, 0.05, 0.2, "rank 3, a low rating"),
]

_VARIANTS = [
    (_sequential, "update h_u with the *old* g_i: keep a copy of g_i before changing it "
                  "(eq. 4.5 uses the same g_i as eq. 4.4)"),
    (_wrong_sign, "the error of eq. 4.3 is rating minus prediction, e = r - r̂; with the other "
                  "sign every step goes uphill"),
    (_no_bias_in_error, "the prediction inside the error includes mu + b_u + b_i, not only g·h"),
    (_plus_reg, "the penalty term shrinks the parameters: subtract reg * g (and reg * h, reg * b)"),
    (_swapped, "g_i moves along e * h_u and h_u along e * g_i (each vector's gradient involves "
               "the other one)"),
    (_biases_frozen, "the biases learn too: b_u += lr * (e - reg * b_u), and the same for b_i"),
]


def _as_tuple(value: Any, shown: str) -> tuple:
    if not isinstance(value, (tuple, list)) or len(value) != 4:
        raise Wrong(f"{shown} returned {type(value).__name__}, not four values",
                    hint="return the new values as a tuple: return g_new, h_new, b_u_new, b_i_new")
    return tuple(value)


def _close(a: tuple, b: tuple) -> bool:
    try:
        return all(np.allclose(np.asarray(x, float), np.asarray(y, float), rtol=1e-9, atol=1e-12)
                   for x, y in zip(a, b))
    except (TypeError, ValueError):
        return False


@exercise("04.sgd_step", title="one SGD update of a biased factorization",
          right=[_step],
          wrong=[(_sequential, "old* g_i"), (_wrong_sign, "r - r̂"), (_no_bias_in_error, "mu + b_u"),
                 (_plus_reg, "shrinks"), (_swapped, "e * h_u"), (_biases_frozen, "biases learn")])
def check_sgd_step(answer: Any) -> str:
    for r, g, h, b_u, b_i, mu, lr, reg, about in _CASES:
        shown = f"sgd_step(r={r}, g={g}, h={h}, b_u={b_u}, b_i={b_i}, mu={mu}, lr={lr}, reg={reg})"
        got = _as_tuple(call(answer, r, np.array(g), np.array(h), b_u, b_i, mu, lr, reg), shown)
        if any(np.shape(x) != np.shape(y) for x, y in zip(got[:2], (g, h))):
            raise Wrong(f"{shown} returned vectors of shapes {[np.shape(x) for x in got[:2]]}",
                        hint="g_new and h_new have the shape of g and h")
        want = _step(r, np.array(g), np.array(h), b_u, b_i, mu, lr, reg)
        if _close(got, want):
            continue
        for variant, hint in _VARIANTS:
            if _close(got, variant(r, np.array(g), np.array(h), b_u, b_i, mu, lr, reg)):
                raise Wrong(f"{shown} ({about}) gave a different update", hint=hint)
        raise Wrong(f"{shown} ({about}) returned {got}; expected {tuple(np.round(x, 6) for x in want)}",
                    hint="e = r - (mu + b_u + b_i + g·h); then each parameter moves by "
                         "lr * (e * <the other factor, or 1 for a bias> - reg * <itself>)")
    return ("course_utils.mf.sgd_epoch runs this update for every rating, compiled by numba.")
