"""Checks for chapter 09 (RNN, LSTM and GRU): a GRU step in Cho et al.'s original form.

The chapter writes Keras's GRU step (reset gate after the recurrent product); the
student writes ``my_gru_cho_step(x_t, h_prev, W, U, b) -> h_t``, the form of Cho et
al. (2014) with the reset gate before the product, as Keras's
``GRU(reset_after=False)`` computes it (one bias row; blocks update, reset,
candidate). The reference is tested against Keras in ``tests/test_sequence_cells.py``.

Example
-------
>>> from course_utils.exercises import evaluate
>>> evaluate("09.gru_cho", lambda x, h, W, U, b: h).passed
False
"""
from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises.registry import Wrong, call, exercise
from course_utils.sequence.cells import sigmoid


# --------------------------------------------------------------------------
# the chapter writes Keras's GRU step; the student transfers it to
# Cho et al.'s original form (reset gate before the recurrent product)
# --------------------------------------------------------------------------
def _gru_cho_right(x_t, h_prev, W, U, b):
    """Keras's ``GRU(reset_after=False)``: one bias, the reset gate applied to h_{t-1}."""
    n = U.shape[0]
    xw = x_t @ W + b
    z = sigmoid(xw[:, :n] + h_prev @ U[:, :n])
    r = sigmoid(xw[:, n:2 * n] + h_prev @ U[:, n:2 * n])
    cand = np.tanh(xw[:, 2 * n:] + (r * h_prev) @ U[:, 2 * n:])
    return z * h_prev + (1 - z) * cand


def _gru_reset_after(x_t, h_prev, W, U, b):  # the chapter's (Keras default) form, not Cho's
    n = U.shape[0]
    xw, hu = x_t @ W + b, h_prev @ U
    z = sigmoid(xw[:, :n] + hu[:, :n])
    r = sigmoid(xw[:, n:2 * n] + hu[:, n:2 * n])
    return z * h_prev + (1 - z) * np.tanh(xw[:, 2 * n:] + r * hu[:, 2 * n:])


def _gru_flipped_update(x_t, h_prev, W, U, b):  # Chung et al.'s z: (1 - z) h + z n
    n = U.shape[0]
    xw = x_t @ W + b
    z = sigmoid(xw[:, :n] + h_prev @ U[:, :n])
    r = sigmoid(xw[:, n:2 * n] + h_prev @ U[:, n:2 * n])
    cand = np.tanh(xw[:, 2 * n:] + (r * h_prev) @ U[:, 2 * n:])
    return (1 - z) * h_prev + z * cand


def _gru_swapped_gates(x_t, h_prev, W, U, b):  # reset block first, update second
    n = U.shape[0]
    xw = x_t @ W + b
    r = sigmoid(xw[:, :n] + h_prev @ U[:, :n])
    z = sigmoid(xw[:, n:2 * n] + h_prev @ U[:, n:2 * n])
    cand = np.tanh(xw[:, 2 * n:] + (r * h_prev) @ U[:, 2 * n:])
    return z * h_prev + (1 - z) * cand


def _gru_no_reset(x_t, h_prev, W, U, b):
    n = U.shape[0]
    xw = x_t @ W + b
    z = sigmoid(xw[:, :n] + h_prev @ U[:, :n])
    cand = np.tanh(xw[:, 2 * n:] + h_prev @ U[:, 2 * n:])
    return z * h_prev + (1 - z) * cand


def _gru_case(seed: int, batch: int, d: int, n: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(batch, d)), rng.normal(size=(batch, n)),
            rng.normal(0, 0.7, (d, 3 * n)), rng.normal(0, 0.7, (n, 3 * n)), rng.normal(0, 0.7, 3 * n))


@exercise("09.gru_cho", title="a GRU step in Cho et al.'s original form",
          right=[_gru_cho_right],
          wrong=[(_gru_reset_after, "*before* the product"), (_gru_flipped_update, "z * h_prev"),
                 (_gru_swapped_gates, "update, reset, candidate"), (_gru_no_reset, "reset gate")])
def check_gru_cho(answer: Any) -> str:
    for seed, shape in ((0, (2, 3, 4)), (1, (5, 2, 3))):
        args = _gru_case(seed, *shape)
        got = np.asarray(call(answer, *[a.copy() for a in args]), dtype=np.float64)
        expected = _gru_cho_right(*args)
        if got.shape != expected.shape:
            raise Wrong(f"with a batch of {shape[0]} and {shape[2]} units the result has shape "
                        f"{got.shape}, expected {expected.shape}",
                        hint="return h_t only, one row per example and one column per unit")
        if not np.allclose(got, expected, atol=1e-8):
            for slip, hint in [
                (_gru_reset_after, "Cho et al. apply the reset gate *before* the product with U: "
                                   "(r * h_prev) @ U_n, not r * (h_prev @ U_n)"),
                (_gru_flipped_update, "keep the old state where z is near 1: "
                                      "h_t = z * h_prev + (1 - z) * n_t (Cho et al.'s eq. 7)"),
                (_gru_swapped_gates, "the blocks of W, U and b are update, reset, candidate "
                                     "(z, r, n), in that order"),
                (_gru_no_reset, "the candidate uses the reset gate: tanh(x W_n + b_n + "
                                "(r * h_prev) @ U_n)"),
            ]:
                if np.allclose(got, slip(*args), atol=1e-8):
                    raise Wrong("your step differs from Keras's GRU(reset_after=False)", hint=hint)
            raise Wrong("your step differs from Keras's GRU(reset_after=False)",
                        hint="z and r as in the chapter's step; the candidate is "
                             "tanh(x_t W_n + b_n + (r * h_prev) @ U_n); then "
                             "h_t = z * h_prev + (1 - z) * candidate")
    return ("Keras computes exactly this with GRU(reset_after=False); its default "
            "(reset_after=True) is the chapter's form, which cuDNN implements.")
