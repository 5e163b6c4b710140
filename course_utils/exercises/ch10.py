"""Checks for chapter 10 (next-anime prediction): the ranks of the held-out items, vectorised.

The chapter's ranking loop sorts every user's scores to find the top ``k``. The
student writes the transfer: ``target_ranks(scores, targets, seen) -> array``,
the 1-based rank of each user's held-out item without sorting and without a
Python loop over users: ``scores`` is ``(n_users, n_items)``, ``targets`` one
item id per user, ``seen`` a boolean array shaped like ``scores`` (``True``
for a watched anime, never ranked); ties count against the target. Recall@k is
then ``ranks <= k`` and the reciprocal rank ``1 / ranks`` (thesis eqs. 4.11, 4.12).

Example
-------
>>> from course_utils.exercises import evaluate
>>> evaluate("10.target_ranks", lambda scores, targets, seen: [1, 1, 1]).passed
False
"""
from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises.registry import Wrong, call, describe, exercise


def _ranks(scores, targets, seen):
    scores = np.where(seen, -np.inf, np.asarray(scores, dtype=float))
    rows = np.arange(len(targets))
    ahead = scores >= scores[rows, targets][:, None]
    ahead[rows, targets] = False
    return 1 + ahead.sum(axis=1)


# Typical slips, kept as test cases: each must get the hint that names it.
def _zero_based(scores, targets, seen):
    return _ranks(scores, targets, seen) - 1


def _seen_kept(scores, targets, seen):
    return _ranks(scores, targets, np.zeros_like(seen))


def _target_counted(scores, targets, seen):
    scores = np.where(seen, -np.inf, np.asarray(scores, dtype=float))
    return 1 + (scores >= scores[np.arange(len(targets)), targets][:, None]).sum(axis=1)


def _ascending(scores, targets, seen):
    return _ranks(-np.asarray(scores, dtype=float), targets, seen)


def _ties_for_target(scores, targets, seen):
    scores = np.where(seen, -np.inf, np.asarray(scores, dtype=float))
    return 1 + (scores > scores[np.arange(len(targets)), targets][:, None]).sum(axis=1)


def _argsort_position(scores, targets, seen):  # positions in an argsort, seen items kept
    order = np.argsort(-np.asarray(scores, dtype=float), axis=1, kind="stable")
    return 1 + np.argmax(order == np.asarray(targets)[:, None], axis=1)


# three users, seven anime, built so that each slip gives another vector of ranks:
# user 0: 0.8 beats the target's 0.5 (0.9 is seen); user 1: 0.7 and two ties beat 0.4
# (0.9 and 0.05 are seen); user 2: 0.9 and two 0.6 beat 0.5, the seen 0.1 is below it
_SCORES = np.array([[0.1, 0.9, 0.3, 0.5, 0.2, 0.8, 0.0],
                    [0.4, 0.4, 0.1, 0.7, 0.9, 0.4, 0.05],
                    [0.6, 0.2, 0.9, 0.6, 0.3, 0.1, 0.5]])
_TARGETS = np.array([3, 0, 6])
_SEEN = np.zeros(_SCORES.shape, dtype=bool)
_SEEN[[0, 1, 1, 2], [1, 4, 6, 5]] = True
_EXPECTED = np.array([2, 4, 4])

_SLIPS = [
    (_zero_based, "ranks start at 1: the best item has rank 1 (so that 1 / rank is the "
                  "reciprocal rank)"),
    (_seen_kept, "remove the seen items before counting (e.g. np.where(seen, -np.inf, "
                 "scores)): a watched anime is never recommended again"),
    (_target_counted, "do not count the target itself: it is always >= its own score "
                      "(set its own entry to False before summing)"),
    (_ascending, "higher scores rank first: count the candidates scored at least as high "
                 "as the target"),
    (_ties_for_target, "ties count against the target: use >= (an item with the same "
                       "score may be listed first)"),
]


def _diagnose(got: np.ndarray) -> str:
    for slip, hint in _SLIPS:
        if np.array_equal(got, slip(_SCORES, _TARGETS, _SEEN)):
            return hint
    return ("leave out the seen items and the target itself, then for each row: 1 + the "
            "number of items whose score is >= the target's (a boolean array summed along "
            "axis 1)")


@exercise("10.target_ranks", title="ranks of the held-out items, vectorised",
          right=[_ranks],
          wrong=[(_zero_based, "ranks start at 1"), (_seen_kept, "seen items"),
                 (_target_counted, "target itself"), (_ascending, "higher scores"),
                 (_ties_for_target, "ties"), (_argsort_position, "seen items")])
def check_target_ranks(answer: Any) -> str:
    scores, seen = _SCORES.copy(), _SEEN.copy()
    got = call(answer, scores, _TARGETS.copy(), seen)
    if got is None:
        raise Wrong("target_ranks(scores, targets, seen) returned None",
                    hint="did you forget the `return` statement?")
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise Wrong(f"target_ranks returned {describe(got)}, not an array of numbers",
                    hint="return one rank per user, e.g. 1 + mask.sum(axis=1)") from None
    if got.shape != _EXPECTED.shape:
        raise Wrong(f"for {len(_TARGETS)} users target_ranks returned shape {got.shape}, "
                    f"expected {_EXPECTED.shape}",
                    hint="one rank per user (row of scores): sum along axis=1")
    if not (np.array_equal(scores, _SCORES) and np.array_equal(seen, _SEEN)):
        raise Wrong("target_ranks changed the arrays it was given",
                    hint="work on a copy (np.where(...) returns a new array)")
    if not np.array_equal(got, _EXPECTED):
        raise Wrong(f"with scores {_SCORES.tolist()}, targets {_TARGETS.tolist()} and seen "
                    f"items {[np.flatnonzero(row).tolist() for row in _SEEN]} the ranks are "
                    f"{_EXPECTED.tolist()}, you returned {got.tolist()}", hint=_diagnose(got))
    return ("counting costs O(N) per user, sorting O(N log N); the chapter's loop sorts "
            "because it needs the whole top-k list, not only the target's place.")
