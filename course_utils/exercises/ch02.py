"""Checks for chapter 02 (explicit vs implicit signals).

``02.completion``: the share of a series a user watched, a *degree* of
implicit preference: ``watched / episodes`` clipped at 1, NaN where the
number of episodes is unknown (0 in the files).

Example
-------
>>> from course_utils.exercises import evaluate
>>> evaluate("02.completion", lambda watched, episodes: watched / 24).passed
False
"""
from __future__ import annotations

from typing import Any

import numpy as np

from course_utils.exercises.registry import Wrong, call, describe, exercise

_WATCHED = np.array([12, 6, 30, 5, 0, 220])
_EPISODES = np.array([12, 24, 26, 0, 13, 220])
_EXPECTED = np.array([1.0, 0.25, 1.0, np.nan, 0.0, 1.0])


def _completion(watched, episodes):
    """The solution."""
    watched = np.asarray(watched, dtype=float)
    episodes = np.asarray(episodes, dtype=float)
    ratio = np.divide(watched, episodes, out=np.full(watched.shape, np.nan), where=episodes > 0)
    return np.minimum(ratio, 1.0)


# Typical slips, kept as test cases: each must get the hint that names it.
def _no_clip(watched, episodes):
    w, e = np.asarray(watched, float), np.asarray(episodes, float)
    return np.divide(w, e, out=np.full(w.shape, np.nan), where=e > 0)


def _divide_by_zero(watched, episodes):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.minimum(np.asarray(watched, float) / np.asarray(episodes, float), 1.0)


def _unknown_as_zero(watched, episodes):
    return np.nan_to_num(_completion(watched, episodes), nan=0.0)


def _integer_division(watched, episodes):
    w, e = np.asarray(watched), np.asarray(episodes)
    out = np.full(w.shape, np.nan)
    out[e > 0] = np.minimum(w[e > 0] // e[e > 0], 1)
    return out


def _percent(watched, episodes):
    return 100 * _completion(watched, episodes)


@exercise("02.completion", title="completion ratio of a series",
          right=[_completion],
          wrong=[(_no_clip, "clip"), (_divide_by_zero, "unknown"), (_unknown_as_zero, "NaN"),
                 (_integer_division, "true division"), (_percent, "fraction")])
def check_completion(answer: Any) -> str:
    got = call(answer, _WATCHED.copy(), _EPISODES.copy())
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise Wrong(f"completion_ratio returned {describe(got)}, not an array of numbers",
                    hint="return one ratio per entry, e.g. a NumPy array") from None
    if got.shape != _EXPECTED.shape:
        raise Wrong(f"for {len(_WATCHED)} entries you returned shape {got.shape}",
                    hint="return one ratio per entry (element-wise, no sum or mean)")
    known = ~np.isnan(_EXPECTED)
    if np.allclose(got[known], 100 * _EXPECTED[known]):
        raise Wrong("your ratios go up to 100", hint="return a fraction between 0 and 1, not a percentage")
    if np.isinf(got).any():
        raise Wrong("an anime with 0 episodes gave an infinite ratio",
                    hint="episodes == 0 means the length is unknown (still airing): return NaN "
                         "there, e.g. np.divide(..., where=episodes > 0, out=np.full(..., np.nan))")
    if not np.isnan(got[3]):
        raise Wrong(f"for 5 watched episodes of a series of unknown length (episodes 0) you "
                    f"returned {got[3]:g}",
                    hint="0 would read as 'watched nothing' and 1 as 'finished': the honest "
                         "answer is 'unknown', NaN")
    if np.isnan(got[known]).any():
        raise Wrong(f"you returned NaN for known lengths: {got.tolist()}",
                    hint="only entries with episodes == 0 are unknown")
    if got[2] > 1:
        raise Wrong(f"30 watched episodes of a 26-episode series gave {got[2]:.3g}",
                    hint="the files contain watched counts beyond the series length (a quirk "
                         "the cleaning fixes): clip the ratio at 1 with np.minimum")
    if got[1] == 0:
        raise Wrong("6 of 24 episodes gave 0",
                    hint="that is integer division (//): use true division (/)")
    if not np.allclose(got[known], _EXPECTED[known]):
        raise Wrong(f"you returned {got.tolist()}; expected {_EXPECTED.tolist()}",
                    hint="watched / episodes, clipped at 1, NaN where episodes is 0")
    return "Completion is one of the 'degrees of preference' implicit feedback offers."
