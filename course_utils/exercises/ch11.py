"""Checks for chapter 11 (recommending for one user).

``11.genre_distribution``: the genre distribution of a list of anime: add up the
multi-hot genre rows of the listed items (``-1`` is padding, not an item) and
divide by the total, so the shares sum to 1.

Example
-------
>>> from course_utils.exercises import evaluate
>>> evaluate("11.genre_distribution", lambda items, genres: genres.sum(axis=0)).passed
False
"""
from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises.registry import Wrong, call, exercise

# 5 anime × 4 genres (the first three genres of each anime, as multi-hot rows)
_GENRES = np.array([[1, 1, 0, 0],
                    [1, 0, 0, 0],
                    [0, 1, 1, 1],
                    [0, 0, 0, 1],
                    [1, 0, 1, 0]], dtype=np.float32)
_CASES = [([0, 1, 2], "three anime"), ([2, 2, 3], "an anime listed twice"),
          ([4, 1, -1, -1], "a top-k list padded with -1")]


def _distribution(items, genres):
    items = np.asarray(items)
    counts = np.asarray(genres)[items[items >= 0]].sum(axis=0)
    return counts / counts.sum()


# Typical slips, kept as test cases: each must get the hint that names it.
def _counts(items, genres):
    items = np.asarray(items)
    return np.asarray(genres)[items[items >= 0]].sum(axis=0)


def _per_item_average(items, genres):  # each anime weighs 1, split over its genres
    items = np.asarray(items)
    rows = np.asarray(genres)[items[items >= 0]]
    return (rows / rows.sum(axis=1, keepdims=True)).mean(axis=0)


def _keeps_padding(items, genres):  # genres[-1] is the last anime, not "no item"
    counts = np.asarray(genres)[np.asarray(items)].sum(axis=0)
    return counts / counts.sum()


def _divides_by_items(items, genres):
    items = np.asarray(items)
    items = items[items >= 0]
    return np.asarray(genres)[items].sum(axis=0) / len(items)


_VARIANTS = [
    (_counts, "these are genre counts: divide by their sum so the shares add up to 1"),
    (_keeps_padding, "-1 is padding, not an item: genres[-1] is the last anime of the "
                     "catalogue; drop items < 0 first"),
    (_divides_by_items, "divide by the number of genre labels (the sum of the counts), not "
                        "by the number of anime: an anime can carry up to three genres"),
    (_per_item_average, "count every genre label once (an anime with three genres adds "
                        "three labels), as in the thesis's Figure 6.1, rather than "
                        "splitting each anime's weight over its genres"),
]


@exercise("11.genre_distribution", title="genre distribution of a list of anime",
          right=[_distribution],
          wrong=[(_counts, "sum"), (_keeps_padding, "padding"),
                 (_divides_by_items, "genre labels"), (_per_item_average, "once")])
def check_genre_distribution(answer: Any) -> str:
    for items, about in _CASES:
        got = call(answer, list(items), _GENRES.copy())
        try:
            got = np.asarray(got, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise Wrong(f"for {about} your function returned {got!r}, not an array of "
                        "numbers", hint="return one share per genre (an array of length "
                                        "genres.shape[1])") from None
        expected = _distribution(items, _GENRES)
        if got.shape != expected.shape:
            raise Wrong(f"for {about} ({items}) the result has {got.size} entries; expected "
                        f"{expected.size}, one per genre",
                        hint="sum the genre rows over the items (axis=0), one share per genre")
        if np.allclose(got, expected):
            continue
        for variant, hint in _VARIANTS:
            if np.allclose(got, np.asarray(variant(items, _GENRES), float)):
                raise Wrong(f"for {about} ({items}) you returned {np.round(got, 3).tolist()}; "
                            f"expected {np.round(expected, 3).tolist()}", hint=hint)
        raise Wrong(f"for {about} ({items}) you returned {np.round(got, 3).tolist()}; "
                    f"expected {np.round(expected, 3).tolist()}",
                    hint="keep items >= 0, add up their genre rows, divide by the total")
    return "The same function, applied to histories and to top-k lists, gives the alignment table."
