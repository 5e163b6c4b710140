"""Checks for chapter 12 (beyond the thesis).

``12.window_mask``: the boolean ``L × L`` mask of *local* causal attention with a
window of ``w`` positions: entry ``[t, s]`` is True when position ``t`` may look at
position ``s``, that is when ``t - w < s <= t`` (itself and the ``w - 1`` positions
before it, never the future). With ``w >= L`` it is the ordinary causal mask.

Example
-------
>>> import numpy as np
>>> from course_utils.exercises import evaluate
>>> evaluate("12.window_mask", lambda L, w: np.tril(np.ones((L, L), bool))).passed
False
"""
from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises.registry import Wrong, call, exercise

_CASES = [(1, 1), (4, 2), (5, 3), (6, 1), (4, 4), (3, 5)]


def _window(L, w):
    t, s = np.arange(L)[:, None], np.arange(L)[None, :]
    return (s <= t) & (s > t - w)


# Typical slips, kept as test cases: each must get the hint that names it.
def _causal_only(L, w):  # forgets the window
    return np.tril(np.ones((L, L), dtype=bool))


def _one_too_many(L, w):  # t - w <= s: w + 1 positions
    t, s = np.arange(L)[:, None], np.arange(L)[None, :]
    return (s <= t) & (s >= t - w)


def _transposed(L, w):  # looks at the future
    return _window(L, w).T


def _no_diagonal(L, w):  # the past only, not itself
    t, s = np.arange(L)[:, None], np.arange(L)[None, :]
    return (s < t) & (s >= t - w)


_VARIANTS = [
    (_causal_only, "that is the plain causal mask: position t may also not look further "
                   "back than w positions (s > t - w)"),
    (_one_too_many, "that window holds w + 1 positions: the position itself counts as one "
                    "of the w (use s > t - w, not s >= t - w)"),
    (_transposed, "that lets every position look at the *future*: rows are the querying "
                  "position t, columns the position s it looks at (s <= t)"),
    (_no_diagonal, "a position may look at itself (the diagonal is True): the newest item is "
                   "the most informative one"),
]


@exercise("12.window_mask", title="a local (windowed) causal attention mask",
          right=[_window],
          wrong=[(_causal_only, "plain causal"), (_one_too_many, "w + 1"),
                 (_transposed, "future"), (_no_diagonal, "itself")])
def check_window_mask(answer: Any) -> str:
    for L, w in _CASES:
        got = call(answer, L, w)
        try:
            got = np.asarray(got)
        except (TypeError, ValueError):
            raise Wrong(f"window_mask({L}, {w}) returned {got!r}",
                        hint="return an L × L boolean NumPy array") from None
        if got.shape != (L, L):
            raise Wrong(f"window_mask({L}, {w}) has shape {got.shape}; expected ({L}, {L})",
                        hint="one row per querying position, one column per position looked at")
        got = got.astype(bool)
        if np.array_equal(got, _window(L, w)):
            continue
        for variant, hint in _VARIANTS:
            if np.array_equal(got, variant(L, w)):
                raise Wrong(f"window_mask({L}, {w}) is not the windowed causal mask", hint=hint)
        raise Wrong(f"window_mask({L}, {w}) is not the windowed causal mask",
                    hint="entry [t, s] is True exactly when t - w < s <= t")
    return ("MultiHeadAttention takes this matrix as attention_mask; with w >= L it is what "
            "use_causal_mask=True applies for you.")
