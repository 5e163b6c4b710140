"""Checks for chapter 03 (evaluating recommenders).

``03.ndcg``: NDCG@k of one user's ranked list, with binary relevance, the
``1 / log2(rank + 1)`` discount and the ideal DCG of ``min(|relevant|, k)`` hits.

Example
-------
>>> from course_utils.exercises import evaluate
>>> evaluate("03.ndcg", lambda recommended, relevant, k: 1.0).passed
False
"""
from __future__ import annotations

import math
from typing import Any

from course_utils.exercises.registry import Wrong, call, exercise, require_number


def _ndcg(recommended, relevant, k):
    """The solution (the same conventions as course_utils.metrics.ndcg_at_k)."""
    relevant, seen, dcg = set(relevant), set(), 0.0
    for rank, item in enumerate(list(recommended)[:k], start=1):
        if item in relevant and item not in seen:
            dcg += 1 / math.log2(rank + 1)
        seen.add(item)
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return dcg / ideal if ideal > 0 else 0.0


# Typical slips, kept as test cases: each must get the hint that names it.
def _dcg_only(recommended, relevant, k):  # thesis eq. 4.10 with log2: no normalisation
    return sum(1 / math.log2(r + 1) for r, i in enumerate(recommended[:k], 1) if i in relevant)


def _thesis_ln(recommended, relevant, k):  # eq. 4.10 as printed: natural log, no IDCG
    return sum(1 / math.log(r + 1) for r, i in enumerate(recommended[:k], 1) if i in relevant)


def _log_of_rank(recommended, relevant, k):  # 1 / log2(rank): infinite at rank 1
    dcg = sum(1 / math.log2(r) for r, i in enumerate(recommended[:k], 1) if i in relevant)
    ideal = sum(1 / math.log2(r) for r in range(1, min(len(relevant), k) + 1))
    return dcg / ideal


def _ideal_of_all_relevant(recommended, relevant, k):  # IDCG over |relevant|, not min(.., k)
    dcg = sum(1 / math.log2(r + 1) for r, i in enumerate(recommended[:k], 1) if i in relevant)
    return dcg / sum(1 / math.log2(r + 1) for r in range(1, len(relevant) + 1))


def _ideal_of_hits(recommended, relevant, k):  # "ideal" = the same hits moved to the top
    hits = [i in relevant for i in recommended[:k]]
    dcg = sum(1 / math.log2(r + 1) for r, h in enumerate(hits, 1) if h)
    ideal = sum(1 / math.log2(r + 1) for r in range(1, sum(hits) + 1))
    return dcg / ideal if ideal else 0.0


def _duplicates_twice(recommended, relevant, k):
    dcg = sum(1 / math.log2(r + 1) for r, i in enumerate(recommended[:k], 1) if i in relevant)
    return dcg / sum(1 / math.log2(r + 1) for r in range(1, min(len(relevant), k) + 1))


def _ignores_k(recommended, relevant, k):
    dcg = sum(1 / math.log2(r + 1) for r, i in enumerate(recommended, 1) if i in set(relevant))
    return dcg / sum(1 / math.log2(r + 1) for r in range(1, min(len(relevant), k) + 1))


def _indexes_to_k(recommended, relevant, k):  # breaks on lists shorter than k
    relevant, seen, dcg = set(relevant), set(), 0.0
    for i in range(k):
        if recommended[i] in relevant and recommended[i] not in seen:
            dcg += 1 / math.log2(i + 2)
        seen.add(recommended[i])
    return dcg / sum(1 / math.log2(r + 1) for r in range(1, min(len(relevant), k) + 1))


# (recommended, relevant, k, what the case is about)
_CASES = [
    ([10, 3, 7, 5, 1], {3, 1, 8}, 5, "hits at ranks 2 and 5, three relevant items"),
    ([10, 3, 7, 5, 1], {3, 1, 8}, 2, "the same list cut at k = 2"),
    ([4, 9], {9}, 2, "one hit at rank 2"),
    ([3, 3, 1], {3, 1}, 3, "item 3 recommended twice"),
    ([6], {6}, 5, "a list shorter than k"),
    ([1, 2, 3], {7}, 3, "no hit at all"),
]


def _variants() -> list[tuple[Any, str]]:
    """The typical slips, each with its hint (the first one matching the answer is shown)."""
    return [
        (_duplicates_twice, "an item recommended twice counts once: the second copy is a wasted "
                            "slot, not a second hit"),
        (_dcg_only, "that is the DCG without the ideal-DCG normalisation (the thesis's eq. "
                    "4.10 omits it; see the errata): divide by the DCG of min(|relevant|, k) "
                    "hits at the top of the list"),
        (_thesis_ln, "that is eq. 4.10 as the thesis prints it: natural log and no ideal-DCG "
                     "normalisation; use log2 and divide by the ideal DCG"),
        (_ideal_of_all_relevant, "the ideal list has min(|relevant|, k) hits, not |relevant|: "
                                 "a list of k items cannot hold more than k hits"),
        (_ideal_of_hits, "the ideal list is built from the *relevant* items, not from the hits "
                         "your list happened to get: normalise by the DCG of min(|relevant|, k) "
                         "hits at the top"),
        (_ignores_k, "only the first k recommendations count: loop over recommended[:k]"),
    ]


def _expected_failure_hint(problem: str) -> str:
    if "ZeroDivisionError" in problem or "division by zero" in problem:
        return ("log2(1) = 0: the discount is 1 / log2(rank + 1) with ranks starting at 1 "
                "(or 1 / log2(i + 2) with 0-based positions i)")
    if "IndexError" in problem:
        return ("the list may be shorter than k: loop over recommended[:k] instead of "
                "indexing positions 0 … k-1")
    return ""


@exercise("03.ndcg", title="NDCG@k of one ranked list",
          right=[_ndcg],
          wrong=[(_dcg_only, "ideal-DCG"), (_thesis_ln, "natural log"),
                 (_log_of_rank, "log2(rank + 1)"), (_ideal_of_all_relevant, "min(|relevant|, k)"),
                 (_ideal_of_hits, "relevant"), (_duplicates_twice, "twice"),
                 (_ignores_k, "recommended[:k]"), (_indexes_to_k, "shorter than k")])
def check_ndcg(answer: Any) -> str:
    for rec, rel, k, about in _CASES:
        shown = f"{getattr(answer, '__name__', 'your function')}({rec}, {rel}, k={k})"
        try:
            got = require_number(call(answer, list(rec), set(rel), k), shown)
        except Wrong as exc:
            hint = _expected_failure_hint(exc.problem)
            if hint:
                raise Wrong(exc.problem, hint=hint) from exc
            raise
        expected = _ndcg(rec, rel, k)
        if math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12):
            continue
        for variant, hint in _variants():
            if math.isclose(got, variant(rec, rel, k), rel_tol=1e-9, abs_tol=1e-12):
                raise Wrong(f"{shown} ({about}) returned {got:.4f}; expected {expected:.4f}",
                            hint=hint)
        if expected > 0 and got == 0:
            hint = ("no hit was found: count an item when it is in `relevant`, with the "
                    "discount 1 / log2(rank + 1) and ranks starting at 1")
        elif got > 1:
            hint = "NDCG is at most 1: divide the DCG by the ideal DCG"
        else:
            hint = ("DCG = sum over hit ranks r of 1 / log2(r + 1); NDCG = DCG / (the DCG of "
                    "min(|relevant|, k) hits at ranks 1, 2, ...)")
        raise Wrong(f"{shown} ({about}) returned {got:.4f}; expected {expected:.4f}", hint=hint)
    return ("course_utils.metrics.ndcg_at_k computes the same for many users at once, "
            "vectorised.")
