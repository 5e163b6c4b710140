"""Checks for chapter 06 (neural recommenders): one Adam step in NumPy.

The student writes ``adam_step(w, g, m, v, t, lr=0.001, beta_1=0.9,
beta_2=0.999, eps=1e-7) -> (w, m, v)``: thesis 4.1.2.3 with the bias-corrected
moments, ``t`` counting steps from 1. The reference is
:class:`course_utils.nn.adam.NumpyAdam` (NumPy only: no TensorFlow is loaded).

Example
-------
>>> from course_utils.exercises import evaluate
>>> evaluate("06.adam_step", lambda w, g, m, v, t, **kw: (w, m, v)).passed
False
"""
from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises.registry import Wrong, call, describe, exercise
from course_utils.nn.adam import NumpyAdam


def _reference(w, g, m, v, t, lr=0.001, beta_1=0.9, beta_2=0.999, eps=1e-7):
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g ** 2
    m_hat = m / (1 - beta_1 ** t)
    v_hat = v / (1 - beta_2 ** t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


# Typical slips, kept as test cases: each must get the hint that names it.
def _no_bias_correction(w, g, m, v, t, lr=0.001, beta_1=0.9, beta_2=0.999, eps=1e-7):
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g ** 2
    return w - lr * m / (np.sqrt(v) + eps), m, v


def _no_sqrt(w, g, m, v, t, lr=0.001, beta_1=0.9, beta_2=0.999, eps=1e-7):
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g ** 2
    return w - lr * (m / (1 - beta_1 ** t)) / (v / (1 - beta_2 ** t) + eps), m, v


def _plus_sign(w, g, m, v, t, lr=0.001, beta_1=0.9, beta_2=0.999, eps=1e-7):
    new_w, m, v = _reference(w, g, m, v, t, lr, beta_1, beta_2, eps)
    return 2 * w - new_w, m, v


def _gradient_not_squared(w, g, m, v, t, lr=0.001, beta_1=0.9, beta_2=0.999, eps=1e-7):
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * np.abs(g)
    m_hat, v_hat = m / (1 - beta_1 ** t), v / (1 - beta_2 ** t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def _stale_moments(w, g, m, v, t, lr=0.001, beta_1=0.9, beta_2=0.999, eps=1e-7):
    new_w, _, _ = _reference(w, g, m, v, t, lr, beta_1, beta_2, eps)
    return new_w, m, v


def _as_triple(result: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise Wrong(f"adam_step returned {describe(result)}",
                    hint="return three things: the new weights, and the new m and v "
                         "(return w, m, v)")
    return tuple(np.asarray(x, dtype=np.float64) for x in result)


# What each slip returns, and the hint that names it (tried in this order).
_DIAGNOSES = (
    (_stale_moments, "the returned m and v are the ones passed in",
     "update the moments first and return the new m and v; the next step starts from them"),
    (_gradient_not_squared, "v does not match",
     "v is the running mean of the squared gradient, g ** 2, not of |g|"),
    (_plus_sign, "the weights moved up the gradient",
     "subtract the update: the step goes against the gradient"),
    (_no_bias_correction, "the step has the wrong size",
     "divide m by (1 - beta_1**t) and v by (1 - beta_2**t): the bias correction undoes "
     "the zero start of the moments"),
    (_no_sqrt, "the step has the wrong size",
     "divide by the square root of v_hat (plus eps), not by v_hat itself"),
)


@exercise("06.adam_step", title="one Adam step in NumPy",
          right=[_reference],
          wrong=[(_no_bias_correction, "bias correction"), (_no_sqrt, "square root"),
                 (_plus_sign, "against the gradient"), (_gradient_not_squared, "squared"),
                 (_stale_moments, "new m and v")])
def check_adam_step(answer: Any) -> str:
    rng = np.random.default_rng(6)
    w = rng.normal(size=5)
    m, v = np.zeros(5), np.zeros(5)
    reference = NumpyAdam(learning_rate=0.01, eps_placement="paper")
    w_ref = w.copy()
    for t in range(1, 6):
        g = 2 * w + rng.normal(0, 0.1, 5)  # a noisy gradient of |w|^2
        got = _as_triple(call(answer, w.copy(), g.copy(), m.copy(), v.copy(), t, lr=0.01))
        w_ref = reference.step(w_ref, g)
        expected = (w_ref, reference.m[0], reference.v[0])
        if not all(np.allclose(a, b, rtol=1e-6, atol=1e-12) for a, b in zip(got, expected)):
            for slip, problem, hint in _DIAGNOSES:
                theirs = slip(w.copy(), g.copy(), m.copy(), v.copy(), t, lr=0.01)
                if all(np.allclose(a, b, rtol=1e-6, atol=1e-12) for a, b in zip(got, theirs)):
                    raise Wrong(f"at step t={t} {problem}", hint=hint)
            raise Wrong(f"at step t={t} adam_step returned w = {describe(got[0])}, expected "
                        f"{describe(np.round(w_ref, 6))}",
                        hint="m = beta_1 m + (1 - beta_1) g; v = beta_2 v + (1 - beta_2) g**2; "
                             "w - lr * m_hat / (sqrt(v_hat) + eps) with m_hat = m / (1 - "
                             "beta_1**t) and v_hat = v / (1 - beta_2**t)")
        w, m, v = got
    return ("Keras writes the same step as lr_t * m / (sqrt(v) + eps) with a bias-corrected "
            "step size lr_t; the two differ only in where eps sits.")
