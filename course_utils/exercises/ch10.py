"""Checks for chapter 10 (next-anime prediction): the rank of a held-out item.

The student writes ``target_rank(scores, target, seen) -> int``: the 1-based rank
of ``target`` when all items are ranked by ``scores`` (higher first), the
``seen`` items removed, ties counted against the target. Recall@k is
``rank <= k`` and the reciprocal rank ``1 / rank`` (thesis eqs. 4.11, 4.12).

Example
-------
>>> from course_utils.exercises import evaluate
>>> evaluate("10.target_rank", lambda scores, target, seen: 1).passed
False
"""
from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises.registry import Wrong, call, exercise, require_number


def _rank(scores, target, seen):
    scores = np.asarray(scores, dtype=float)
    keep = np.ones(len(scores), dtype=bool)
    keep[np.asarray(list(seen), dtype=np.int64)] = False
    keep[target] = False
    return 1 + int(np.sum(scores[keep] >= scores[target]))


# Typical slips, kept as test cases: each must get the hint that names it.
def _zero_based(scores, target, seen):
    return _rank(scores, target, seen) - 1


def _seen_kept(scores, target, seen):
    return _rank(scores, target, [])


def _ascending(scores, target, seen):
    return _rank(-np.asarray(scores, dtype=float), target, seen)


def _ties_for_target(scores, target, seen):
    scores = np.asarray(scores, dtype=float)
    keep = np.ones(len(scores), dtype=bool)
    keep[np.asarray(list(seen), dtype=np.int64)] = False
    keep[target] = False
    return 1 + int(np.sum(scores[keep] > scores[target]))


def _argsort_position(scores, target, seen):  # the position in an argsort, seen items kept
    return int(np.flatnonzero(np.argsort(-np.asarray(scores, dtype=float)) == target)[0]) + 1


# cases: (scores, target, seen, rank); built so that each slip gives another number
_CASES = [
    (np.array([0.1, 0.9, 0.3, 0.5, 0.2, 0.8]), 3, {1}, 2),        # 0.8 beats 0.5; 0.9 seen
    (np.array([0.4, 0.4, 0.1, 0.7, 0.9, 0.4, 0.05]), 0, {4, 6}, 4),  # 0.7 and two ties
]


def _diagnose(got: float, scores, target, seen) -> str:
    for slip, hint in [
        (_zero_based, "ranks start at 1: the best item has rank 1 (so that 1 / rank is the "
                      "reciprocal rank)"),
        (_seen_kept, "remove the seen items from the candidates before counting: a watched "
                     "anime is never recommended again"),
        (_ascending, "higher scores rank first: count the candidates scored at least as high "
                     "as the target"),
        (_ties_for_target, "ties count against the target: use >= (an item with the same "
                           "score may be listed first)"),
    ]:
        if got == slip(scores, target, seen):
            return hint
    return ("1 + the number of candidates (all items except the seen ones and the target) "
            "whose score is >= the target's score")


@exercise("10.target_rank", title="rank of the held-out item in the full catalogue",
          right=[_rank],
          wrong=[(_zero_based, "ranks start at 1"), (_seen_kept, "seen items"),
                 (_ascending, "higher scores"), (_ties_for_target, "ties"),
                 (_argsort_position, "seen items")])
def check_target_rank(answer: Any) -> str:
    for scores, target, seen, expected in _CASES:
        got = require_number(call(answer, scores.copy(), target, set(seen)),
                             "target_rank(scores, target, seen)")
        if got != expected:
            raise Wrong(f"with scores {scores.tolist()}, target {target} and seen {sorted(seen)} "
                        f"the rank is {expected}, you returned {got:g}",
                        hint=_diagnose(got, scores, target, seen))
    return ("course_utils.metrics computes Recall@k and MRR@k from top-k lists instead, "
            "which is the same thing up to ties at the k-th place.")
