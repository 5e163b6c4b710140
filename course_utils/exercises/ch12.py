"""Checks for chapter 12 (beyond the thesis).

``12.causal_mask``: the boolean ``L × L`` attention mask of a causal
self-attention layer: entry ``[t, s]`` is True when position ``t`` may look at
position ``s``, that is when ``s <= t`` (itself and the past, never the future).

Example
-------
>>> import numpy as np
>>> from course_utils.exercises import evaluate
>>> evaluate("12.causal_mask", lambda L: np.ones((L, L), bool)).passed
False
"""
from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises.registry import Wrong, call, exercise


def _causal(L):
    return np.tril(np.ones((L, L), dtype=bool))


# Typical slips, kept as test cases: each must get the hint that names it.
def _transposed(L):
    return np.triu(np.ones((L, L), dtype=bool))


def _strict(L):
    return np.tril(np.ones((L, L), dtype=bool), k=-1)


def _everything(L):
    return np.ones((L, L), dtype=bool)


_VARIANTS = [
    (_transposed, "that lets every position look at the *future* (s >= t): rows are the "
                  "querying position t, columns the position s it looks at; use np.tril"),
    (_strict, "a position may look at itself (the diagonal is True): the newest item is "
              "the most informative one"),
    (_everything, "that is no mask at all: position t must not see positions after it"),
]


@exercise("12.causal_mask", title="the causal attention mask",
          right=[_causal],
          wrong=[(_transposed, "future"), (_strict, "itself"), (_everything, "no mask")])
def check_causal_mask(answer: Any) -> str:
    for L in (1, 4, 7):
        got = call(answer, L)
        try:
            got = np.asarray(got)
        except (TypeError, ValueError):
            raise Wrong(f"causal_mask({L}) returned {got!r}",
                        hint="return an L × L boolean NumPy array") from None
        if got.shape != (L, L):
            raise Wrong(f"causal_mask({L}) has shape {got.shape}; expected ({L}, {L})",
                        hint="one row per querying position, one column per position looked at")
        got = got.astype(bool)
        if np.array_equal(got, _causal(L)):
            continue
        for variant, hint in _VARIANTS:
            if np.array_equal(got, variant(L)):
                raise Wrong(f"causal_mask({L}) is not the causal mask", hint=hint)
        raise Wrong(f"causal_mask({L}) is not the causal mask",
                    hint="entry [t, s] is True exactly when s <= t (np.tril of ones)")
    return "This is the mask MultiHeadAttention(use_causal_mask=True) applies for you."
