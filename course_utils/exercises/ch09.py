"""Checks for chapter 09 (RNN, LSTM and GRU): one LSTM step in NumPy.

The student writes ``my_lstm_step(x_t, h_prev, c_prev, W, U, b) -> (h_t, c_t)``
with Keras's weight layout (gates input, forget, candidate, output side by
side). The reference is :func:`course_utils.sequence.cells.lstm_step`, itself
tested against ``keras.layers.LSTM``.

Example
-------
>>> from course_utils.exercises import evaluate
>>> evaluate("09.lstm_step", lambda x, h, c, W, U, b: (h, c)).passed
False
"""
from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises.registry import Wrong, call, exercise
from course_utils.sequence.cells import LSTMWeights, lstm_step, sigmoid


def _right(x_t, h_prev, c_prev, W, U, b):
    return lstm_step(x_t, h_prev, c_prev, LSTMWeights(W, U, b))


def _split(x_t, h_prev, W, U, b):
    n = U.shape[0]
    z = x_t @ W + h_prev @ U + b
    return [z[:, j * n:(j + 1) * n] for j in range(4)]


# Typical slips, kept as test cases: each must get the hint that names it.
def _pytorch_order(x_t, h_prev, c_prev, W, U, b):  # i, f, o, g: the candidate in the last block
    zi, zf, zo, zg = _split(x_t, h_prev, W, U, b)
    c = sigmoid(zf) * c_prev + sigmoid(zi) * np.tanh(zg)
    return sigmoid(zo) * np.tanh(c), c


def _sigmoid_candidate(x_t, h_prev, c_prev, W, U, b):
    zi, zf, zg, zo = _split(x_t, h_prev, W, U, b)
    c = sigmoid(zf) * c_prev + sigmoid(zi) * sigmoid(zg)
    return sigmoid(zo) * np.tanh(c), c


def _no_tanh_on_memory(x_t, h_prev, c_prev, W, U, b):
    zi, zf, zg, zo = _split(x_t, h_prev, W, U, b)
    c = sigmoid(zf) * c_prev + sigmoid(zi) * np.tanh(zg)
    return sigmoid(zo) * c, c


def _no_forget(x_t, h_prev, c_prev, W, U, b):
    zi, zf, zg, zo = _split(x_t, h_prev, W, U, b)
    c = c_prev + sigmoid(zi) * np.tanh(zg)
    return sigmoid(zo) * np.tanh(c), c


def _swapped_outputs(x_t, h_prev, c_prev, W, U, b):
    h, c = _right(x_t, h_prev, c_prev, W, U, b)
    return c, h


def _no_bias(x_t, h_prev, c_prev, W, U, b):
    return _right(x_t, h_prev, c_prev, W, U, np.zeros_like(b))


def _case(seed: int, batch: int, d: int, n: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(batch, d)), rng.normal(size=(batch, n)), rng.normal(size=(batch, n)),
            rng.normal(0, 0.7, (d, 4 * n)), rng.normal(0, 0.7, (n, 4 * n)), rng.normal(0, 0.7, 4 * n))


def _diagnose(got: tuple[np.ndarray, np.ndarray], args: tuple[np.ndarray, ...]) -> str:
    for slip, hint in [
        (_swapped_outputs, "return (h_t, c_t) in that order: the hidden state first"),
        (_pytorch_order, "the blocks of W, U and b are in Keras's order input, forget, "
                         "candidate, output (i, f, g, o): the candidate is the third block"),
        (_sigmoid_candidate, "the candidate memory g uses tanh, not the sigmoid (only the "
                             "three gates are sigmoids)"),
        (_no_tanh_on_memory, "the output is h_t = o * tanh(c_t): squash the memory with tanh "
                             "before the output gate"),
        (_no_forget, "the old memory is multiplied by the forget gate: c_t = f * c_prev + i * g"),
        (_no_bias, "add the bias b to the pre-activations: x_t @ W + h_prev @ U + b"),
    ]:
        ref = slip(*[a.copy() for a in args])
        if all(np.shape(g) == np.shape(r) and np.allclose(g, r) for g, r in zip(got, ref)):
            return hint
    return ("compute z = x_t @ W + h_prev @ U + b, slice it into four blocks of n columns "
            "(i, f, g, o), apply sigmoid to i, f, o and tanh to g, then "
            "c_t = f * c_prev + i * g and h_t = o * tanh(c_t)")


@exercise("09.lstm_step", title="one LSTM step in NumPy",
          right=[_right],
          wrong=[(_pytorch_order, "candidate, output"), (_sigmoid_candidate, "tanh, not the sigmoid"),
                 (_no_tanh_on_memory, "o * tanh(c_t)"), (_no_forget, "forget gate"),
                 (_swapped_outputs, "(h_t, c_t)"), (_no_bias, "bias")])
def check_lstm_step(answer: Any) -> str:
    for seed, shape in ((0, (2, 3, 4)), (1, (5, 2, 3))):
        args = _case(seed, *shape)
        out = call(answer, *[a.copy() for a in args])
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise Wrong(f"my_lstm_step returned {type(out).__name__}, expected a pair (h_t, c_t)",
                        hint="end with `return h, c`")
        got = tuple(np.asarray(o, dtype=np.float64) for o in out)
        expected = _right(*args)
        batch, _, n = shape
        if any(g.shape != (batch, n) for g in got):
            raise Wrong(f"with a batch of {batch} and {n} units the outputs have shapes "
                        f"{[g.shape for g in got]}, expected ({batch}, {n}) each",
                        hint="each of h_t and c_t has one row per example and one column "
                             "per unit; slice z into blocks of n = U.shape[0] columns")
        if not all(np.allclose(g, e, atol=1e-8) for g, e in zip(got, expected)):
            raise Wrong(f"with d={shape[1]} inputs and n={n} units the result differs from "
                        "Keras's LSTM", hint=_diagnose(got, args))
    return ("Keras computes exactly this (`implementation=2` fuses the four products into "
            "one, as you did).")
